//go:debug x509negativeserial=1

package ldapsource

// These tests read the lab Samba AD DC of ADJOIN_SAMBA_ENV (see pkg/testkit/sambatest). The directive
// above lets Go parse Samba's self-generated certificate, whose serial number is negative.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldaptest"
)

func labConfig(lab *ldaptest.Lab, url string, startTLS bool, bindDN, password string) LDAPConfig {
	return LDAPConfig{
		URL: url, StartTLS: startTLS, BindDN: bindDN,
		Password: func() (string, error) { return password, nil },
		TLS:      TLSOptions{CAFile: lab.DC.CA, ServerName: lab.DC.FQDN},
		PageSize: 2, // several pages even on a small lab domain
		Timeout:  20 * time.Second,
	}
}

func syncOnce(t *testing.T, cfg LDAPConfig) (*SyncResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &LDAPSync{Config: cfg, Options: Options{Source: "ldap:" + cfg.URL}, FullEvery: time.Hour}
	return s.Sync(ctx, time.Now())
}

// TestSambaLDAPSyncReadsAccounts makes accounts of every shape on the DC, syncs as an ordinary
// domain user over LDAPS and over StartTLS, and compares what was read with what samba-tool
// shows.
func TestSambaLDAPSyncReadsAccounts(t *testing.T) {
	lab := ldaptest.Open(t)
	dc := lab.DC
	realm := strings.ToLower(dc.Realm)
	reader, plain, spnUser, noPreauth, comp := ldaptest.Name(t, "r"), ldaptest.Name(t, "u"),
		ldaptest.Name(t, "s"), ldaptest.Name(t, "n"), ldaptest.Name(t, "c")
	lab.User(t, reader)
	plainDN := lab.User(t, plain)
	lab.User(t, spnUser)
	spn := "HTTP/" + strings.ReplaceAll(spnUser, "_", "-") + "." + realm
	dc.Tool(t, "spn", "add", spn, spnUser)
	npDN := lab.User(t, noPreauth)
	lab.Replace(t, npDN, "userAccountControl", strconv.Itoa(lab.UAC(t, npDN)|ldaptest.UACDontRequirePreauth))
	fqdn := strings.ReplaceAll(comp, "_", "-") + "." + realm
	compDN := lab.Computer(t, comp, fqdn)
	ids := map[string]ldaptest.Identity{}
	uac := map[string]int{} // samba-tool makes computer accounts disabled (0x1002)
	for _, u := range []string{plain, spnUser, noPreauth} {
		ids[u] = lab.Show(t, "user", u)
		uac[u] = lab.UAC(t, "CN="+u+",CN=Users,"+dc.BaseDN)
	}
	ids[comp+"$"] = lab.Show(t, "computer", comp)
	uac[comp+"$"] = lab.UAC(t, compDN)

	for _, tr := range []struct {
		name     string
		url      string
		startTLS bool
	}{
		{"ldaps", dc.LDAPSURL(), false},
		{"starttls", dc.LDAPURL(), true},
	} {
		t.Run(tr.name, func(t *testing.T) {
			res, err := syncOnce(t, labConfig(lab, tr.url, tr.startTLS, reader+"@"+realm, ldaptest.Password))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindFull || res.USN <= 0 || !strings.Contains(res.Server, "NTDS Settings") {
				t.Errorf("kind %q, usn %d, server %q; want a full sync with the DC's USN and dsServiceName", res.Kind, res.USN, res.Server)
			}
			if res.Users+res.Computers != len(res.Put) || len(res.Delete) != 0 {
				t.Errorf("%d users + %d computers, %d entities, %d deletions", res.Users, res.Computers, len(res.Put), len(res.Delete))
			}
			got := map[string]*adjoinv1.Entity{}
			for _, e := range res.Put {
				got[e.GetSamAccountName()] = e
			}
			for sam, id := range ids {
				e := got[sam]
				if e == nil {
					t.Fatalf("%s not synced", sam)
				}
				if e.GetSid() != id.SID || e.GetObjectGuid() != id.GUID || e.GetKey() != id.GUID {
					t.Errorf("%s: sid %s guid %s key %s, samba-tool says %s %s", sam, e.GetSid(), e.GetObjectGuid(), e.GetKey(), id.SID, id.GUID)
				}
				if e.GetNetbiosDomain() != dc.Domain || e.GetDnsDomain() != realm || e.GetSource() != "ldap:"+tr.url || e.GetWhenChanged() == nil {
					t.Errorf("%s: domain %s/%s, source %s, whenChanged %v", sam, e.GetNetbiosDomain(), e.GetDnsDomain(), e.GetSource(), e.GetWhenChanged())
				}
				if e.GetUserAccountControl() != uint32(uac[sam]) || e.GetDisabled() != (uac[sam]&2 != 0) || e.GetPrivileged() {
					t.Errorf("%s: userAccountControl %#x, disabled %v, privileged %v; the DC says %#x, not privileged",
						sam, e.GetUserAccountControl(), e.GetDisabled(), e.GetPrivileged(), uac[sam])
				}
			}
			if e := got[plain]; e.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER || !strings.EqualFold(e.GetDistinguishedName(), plainDN) ||
				!strings.EqualFold(e.GetUpn(), plain+"@"+realm) {
				t.Errorf("%s: kind %v, dn %q, upn %q", plain, e.GetKind(), e.GetDistinguishedName(), e.GetUpn())
			}
			if e := got[spnUser]; !slices.Contains(e.GetServicePrincipalNames(), spn) {
				t.Errorf("%s: SPNs %v, want %s", spnUser, e.GetServicePrincipalNames(), spn)
			}
			if e := got[noPreauth]; e.GetUserAccountControl()&ldaptest.UACDontRequirePreauth == 0 {
				t.Errorf("%s: userAccountControl %#x, want DONT_REQ_PREAUTH", noPreauth, e.GetUserAccountControl())
			}
			if e := got[comp+"$"]; e.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_COMPUTER || e.GetDnsHostName() != fqdn ||
				e.GetNetbiosName() != strings.ToUpper(comp) || !strings.EqualFold(e.GetDistinguishedName(), compDN) {
				t.Errorf("%s: kind %v, dNSHostName %q, NetBIOS %q, dn %q", comp, e.GetKind(), e.GetDnsHostName(), e.GetNetbiosName(), e.GetDistinguishedName())
			}
			if e := got[dc.Admin]; !e.GetPrivileged() {
				t.Errorf("%s is not privileged", dc.Admin)
			}
		})
	}
}

// TestSambaLDAPSyncErrors checks that each way of getting the connection wrong fails at the right
// step with a message naming what to fix.
func TestSambaLDAPSyncErrors(t *testing.T) {
	lab := ldaptest.Open(t)
	dc := lab.DC
	otherCA := writeOtherCA(t)
	tests := []struct {
		name   string
		change func(*LDAPConfig)
		step   error
		want   string
	}{
		{"bad password", func(c *LDAPConfig) { c.Password = func() (string, error) { return "wrong-password", nil } }, ErrLDAPBind,
			"LDAP bind as " + dc.BindDN() + " to ldaps://127.0.0.1:636 refused: invalid credentials (LDAP 49)"},
		{"unreachable port", func(c *LDAPConfig) { c.URL = "ldaps://127.0.0.1:1" }, ErrLDAPConnect,
			"LDAP connect to ldaps://127.0.0.1:1 failed: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"other CA", func(c *LDAPConfig) { c.TLS.CAFile = otherCA }, ErrLDAPTLS,
			"TLS: certificate signed by unknown authority (check --ldap-ca-file)"},
		{"other CA over StartTLS", func(c *LDAPConfig) { c.URL, c.StartTLS, c.TLS.CAFile = dc.LDAPURL(), true, otherCA }, ErrLDAPTLS,
			"TLS: certificate signed by unknown authority (check --ldap-ca-file)"},
		{"address instead of the certificate's name", func(c *LDAPConfig) { c.TLS.ServerName = "" }, ErrLDAPTLS,
			"not 127.0.0.1 (check --ldap-server-name)"},
		{"LDAPS to the plain port", func(c *LDAPConfig) { c.URL = "ldaps://127.0.0.1:389" }, ErrLDAPTLS, "check --ldap-url"},
		{"wrong base DN", func(c *LDAPConfig) { c.BaseDN = "OU=nowhere," + dc.BaseDN }, ErrLDAPSearch,
			`LDAP search under "OU=nowhere,` + dc.BaseDN + `" on ldaps://127.0.0.1:636 failed: no such object (LDAP 32)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := labConfig(lab, dc.LDAPSURL(), false, dc.BindDN(), dc.AdminPassword)
			tt.change(&cfg)
			res, err := syncOnce(t, cfg)
			if err == nil {
				t.Fatalf("synced %d entities, want an error", len(res.Put))
			}
			if !errors.Is(err, tt.step) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (step %v), want %v with %q", err, errors.Is(err, tt.step), tt.step, tt.want)
			}
		})
	}
	t.Run("certificate error keeps its type", func(t *testing.T) {
		cfg := labConfig(lab, dc.LDAPSURL(), false, dc.BindDN(), dc.AdminPassword)
		cfg.TLS.CAFile = otherCA
		_, err := syncOnce(t, cfg)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("error %v is not an x509.UnknownAuthorityError", err)
		}
	})
}

// writeOtherCA writes the certificate of a fresh CA that signed nothing on the DC.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "some other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSambaLDAPSyncChoosesFull checks when a sync is full: first, after FullEvery, when another DC
// answers (its USNs mean nothing here), when the USN went back, and after Forget.
func TestSambaLDAPSyncChoosesFull(t *testing.T) {
	lab := ldaptest.Open(t)
	s := &LDAPSync{Config: labConfig(lab, lab.DC.LDAPSURL(), false, lab.DC.BindDN(), lab.DC.AdminPassword),
		Options: Options{Source: "ldap:test"}, FullEvery: time.Hour}
	start := time.Now()
	steps := []struct {
		name   string
		before func()
		at     time.Duration
		want   string
	}{
		{"first", func() {}, 0, KindFull},
		{"next", func() {}, time.Minute, KindIncremental},
		{"another DC", func() { s.state.server = "CN=NTDS Settings,CN=OTHERDC,CN=Servers" }, 2 * time.Minute, KindFull},
		{"same DC again", func() {}, 3 * time.Minute, KindIncremental},
		{"USN went back", func() { s.state.usn += 1 << 40 }, 4 * time.Minute, KindFull},
		{"full interval passed", func() {}, 2 * time.Hour, KindFull},
		{"after Forget", s.Forget, 2*time.Hour + time.Minute, KindFull},
	}
	for _, st := range steps {
		st.before()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := s.Sync(ctx, start.Add(st.at))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res.Kind != st.want {
			t.Errorf("%s: %s sync, want %s", st.name, res.Kind, st.want)
		}
	}
}

// TestSambaLDAPRangedValues reads a group's members two at a time, as AD hands out more than
// 1500 values (member;range=0-1499), and checks completeRanges reads them all.
func TestSambaLDAPRangedValues(t *testing.T) {
	lab := ldaptest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dialLDAP(ctx, labConfig(lab, lab.DC.LDAPSURL(), false, lab.DC.BindDN(), lab.DC.AdminPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dn := "CN=Denied RODC Password Replication Group,CN=Users," + lab.DC.BaseDN
	whole, err := c.search(dn, "(objectClass=group)", []string{"member"})
	if err != nil || len(whole) != 1 {
		t.Fatalf("%d entries, %v", len(whole), err)
	}
	ranged, err := c.search(dn, "(objectClass=group)", []string{"member;range=0-1"})
	if err != nil || len(ranged) != 1 {
		t.Fatalf("%d entries, %v", len(ranged), err)
	}
	want, got := whole[0].GetAttributeValues("member"), ranged[0].GetAttributeValues("member")
	slices.Sort(want)
	slices.Sort(got)
	if len(want) < 3 || !slices.Equal(got, want) {
		t.Errorf("ranged read gave %d members %v, want the %d of a plain read", len(got), got, len(want))
	}
}
