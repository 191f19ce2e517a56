// Package sambatest gives tests a real Samba Active Directory domain controller: the one that
// deploy/samba/start-dc.sh started, named by ADJOIN_SAMBA_ENV (the path of its dc.env), and
// helpers that make real traffic against it (samba-tool over LDAP, kinit, smbclient).
//
// Without ADJOIN_SAMBA_ENV the tests that need the DC are skipped with a loud message; with
// ADJOIN_REQUIRE_SAMBA=1 (set by .ci/run) a missing DC fails them instead.
package sambatest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// DC is a running lab domain controller, as described by its dc.env.
type DC struct {
	Dir           string // where start-dc.sh provisioned it
	Realm         string // ADJOIN.TEST
	Domain        string // NetBIOS domain: ADJOIN
	Host          string // adjoindc
	FQDN          string // adjoindc.adjoin.test
	BaseDN        string // DC=adjoin,DC=test
	Admin         string // Administrator
	AdminPassword string
	Conf          string // smb.conf
	CA            string // the DC's self-signed CA (PEM), for LDAPS
	Log           string // samba.log with the JSON audit events
	KRB5Config    string // krb5.conf pointing at 127.0.0.1

	// Where Kinit (through KRB5Config), SMBLogon and LDAPSearch connect: the DC itself, or the
	// relays of Via.
	kdc, smb, ldaps string
}

// Load returns the DC named by ADJOIN_SAMBA_ENV, or skips (or fails, under
// ADJOIN_REQUIRE_SAMBA=1) when there is none.
func Load(t testing.TB) *DC {
	t.Helper()
	path := os.Getenv("ADJOIN_SAMBA_ENV")
	if path == "" {
		msg := "SKIPPED: no Samba AD DC (set ADJOIN_SAMBA_ENV to the dc.env of deploy/samba/start-dc.sh, or run make test-samba)"
		if os.Getenv("ADJOIN_REQUIRE_SAMBA") == "1" {
			t.Fatal(msg + " but ADJOIN_REQUIRE_SAMBA=1")
		}
		t.Skip(msg)
	}
	dc, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// Read parses a dc.env written by start-dc.sh.
func Read(path string) (*DC, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samba dc env: %w", err)
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vals[k] = v
		}
	}
	dc := &DC{Dir: vals["SAMBA_DIR"], Realm: vals["SAMBA_REALM"], Domain: vals["SAMBA_DOMAIN"], Host: vals["SAMBA_HOST"],
		FQDN: vals["SAMBA_FQDN"], BaseDN: vals["SAMBA_BASE_DN"], Admin: vals["SAMBA_ADMIN"],
		AdminPassword: vals["SAMBA_ADMIN_PASSWORD"], Conf: vals["SAMBA_CONF"], CA: vals["SAMBA_CA"],
		Log: vals["SAMBA_LOG"], KRB5Config: vals["KRB5_CONFIG"], kdc: "127.0.0.1:88", smb: "127.0.0.1:445", ldaps: "127.0.0.1:636"}
	if dc.Realm == "" || dc.AdminPassword == "" || dc.BaseDN == "" || dc.Log == "" {
		return nil, fmt.Errorf("samba dc env %s: SAMBA_REALM, SAMBA_ADMIN_PASSWORD, SAMBA_BASE_DN or SAMBA_LOG missing", path)
	}
	return dc, nil
}

// LDAPURL is the plain LDAP URL of the DC (StartTLS-capable).
func (dc *DC) LDAPURL() string { return "ldap://127.0.0.1:389" }

// LDAPSURL is the LDAPS URL of the DC; its certificate names FQDN, not 127.0.0.1.
func (dc *DC) LDAPSURL() string { return "ldaps://127.0.0.1:636" }

// BindDN is the administrator's bind name for simple binds (a UPN, which AD accepts).
func (dc *DC) BindDN() string { return dc.Admin + "@" + strings.ToLower(dc.Realm) }

// Tool runs samba-tool against the running DC over LDAP as the administrator, so that the
// change goes through the server and lands in its audit log.
func (dc *DC) Tool(t testing.TB, args ...string) string {
	t.Helper()
	args = append(args, "-H", "ldap://127.0.0.1", "-U", dc.Admin+"%"+dc.AdminPassword)
	out, err := dc.run("samba-tool", nil, args...)
	if err != nil {
		t.Fatalf("samba-tool %s: %v\n%s", strings.Join(args[:len(args)-4], " "), err, out)
	}
	return out
}

// Kinit asks the KDC for a TGT for user with password; a wrong password returns an error.
func (dc *DC) Kinit(user, password string) error {
	cache := "FILE:" + dc.Dir + "/krb5cc_test"
	out, err := dc.run("kinit", []byte(password+"\n"), "-c", cache, user+"@"+dc.Realm)
	if err != nil {
		return fmt.Errorf("kinit %s: %w: %s", user, err, strings.TrimSpace(out))
	}
	return nil
}

// SMBLogon makes an NTLM logon over SMB2 (smbclient -L) as DOMAIN\user; a wrong password
// returns an error.
func (dc *DC) SMBLogon(user, password, workstation string) error {
	host, port, _ := net.SplitHostPort(dc.smb)
	args := []string{"-L", "//" + host, "-p", port, "--use-kerberos=off", "-U", dc.Domain + `\` + user + "%" + password}
	if workstation != "" {
		args = append(args, "--netbiosname", workstation)
	}
	out, err := dc.run("smbclient", nil, args...)
	if err != nil {
		return fmt.Errorf("smbclient as %s: %w: %s", user, err, strings.TrimSpace(out))
	}
	return nil
}

// LDAPSearch runs ldapsearch with a simple bind over LDAPS as bindDN.
func (dc *DC) LDAPSearch(bindDN, password, filter string, attrs ...string) (string, error) {
	args := append([]string{"-x", "-H", "ldaps://" + dc.ldaps, "-D", bindDN, "-w", password, "-b", dc.BaseDN, filter}, attrs...)
	out, err := dc.run("ldapsearch", nil, args...)
	if err != nil {
		return out, fmt.Errorf("ldapsearch as %s: %w: %s", bindDN, err, strings.TrimSpace(out))
	}
	return out, nil
}

// Command runs a client program (smbclient, ldapsearch...) with the DC's krb5.conf, credential
// cache and CA, and returns its output; SMBAddr and LDAPSAddr say where to point it.
func (dc *DC) Command(name string, args ...string) (string, error) {
	out, err := dc.run(name, nil, args...)
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out))
	}
	return out, nil
}

// SMBAddr is where SMBLogon connects: the DC's port 445, or Via's relay.
func (dc *DC) SMBAddr() string { return dc.smb }

// LDAPSAddr is where LDAPSearch connects: the DC's port 636, or Via's relay.
func (dc *DC) LDAPSAddr() string { return dc.ldaps }

func (dc *DC) run(name string, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+dc.KRB5Config, "KRB5CCNAME=FILE:"+dc.Dir+"/krb5cc_test",
		"LDAPTLS_CACERT="+dc.CA, "LDAPTLS_REQCERT=allow")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Show returns the attributes samba-tool prints for an account (`samba-tool user show`, which
// also works for computers with their $ name): objectSid and objectGUID as text, among others.
// Multi-valued attributes keep their last value.
func (dc *DC) Show(t testing.TB, sam string) map[string]string {
	t.Helper()
	attrs := map[string]string{}
	for _, line := range strings.Split(dc.Tool(t, "user", "show", sam), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(k, " ") {
			attrs[k] = strings.TrimSpace(v)
		}
	}
	return attrs
}

// Modify applies an LDIF change with ldapmodify over LDAPS as the administrator (for what
// samba-tool cannot set, such as userAccountControl bits).
func (dc *DC) Modify(t testing.TB, ldif string) {
	t.Helper()
	out, err := dc.run("ldapmodify", []byte(ldif), "-x", "-H", "ldaps://127.0.0.1", "-D", dc.BindDN(), "-w", dc.AdminPassword)
	if err != nil {
		t.Fatalf("ldapmodify: %v\n%s", err, out)
	}
}
