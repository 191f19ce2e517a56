package sambaaudit

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit/sambatest"
)

// Client addresses of the capture. The lab DC listens on loopback only, and the detectors
// ignore loopback clients, so the traffic goes through TCP relays that connect to the DC from
// this machine's other addresses, which the DC then logs. (Docker's masquerading rewrites
// connections from its bridge address, so that one cannot be used.)
const (
	captureSpray = "192.0.2.2" // Kerberos account enumeration, then the password spray
	captureOther = "fd00::2"   // good logons (negative control), then the SMB brute force
)

// Accounts of the capture; every one starts with sa_.
var (
	captureSprayed = []string{"sa_spray01", "sa_spray02", "sa_spray03", "sa_spray04", "sa_spray05", "sa_spray06",
		"sa_spray07", "sa_spray08", "sa_spray09", "sa_spray10", "sa_spray11", "sa_spray12"}
	captureGhosts = []string{"sa_ghost01", "sa_ghost02", "sa_ghost03", "sa_ghost04", "sa_ghost05", "sa_ghost06",
		"sa_ghost07", "sa_ghost08", "sa_ghost09", "sa_ghost10", "sa_ghost11"}
	captureUsers = append(append([]string{}, captureSprayed...), "sa_bilbo", "sa_frodo", "sa_sam", "sa_merry", "sa_pippin")
)

const (
	capturePassword   = "Sa-Lab-Pass-2026!"
	captureBrutePulls = 22 // password-brute-force's threshold is 20 failures in 5 minutes
)

// TestCapture makes the traffic testdata/README.md describes against the lab DC of
// ADJOIN_SAMBA_ENV and writes what its log gained to testdata/samba-audit.log, and the
// accounts to testdata/accounts.ldif. It rewrites the sample, so it runs only with
// ADJOIN_SAMBA_CAPTURE=1.
func TestCapture(t *testing.T) {
	if os.Getenv("ADJOIN_SAMBA_CAPTURE") != "1" {
		t.Skip("set ADJOIN_SAMBA_CAPTURE=1 (and ADJOIN_SAMBA_ENV) to capture testdata/samba-audit.log again")
	}
	dc := sambatest.Load(t)
	for _, line := range strings.Split(dc.Tool(t, "user", "list"), "\n") {
		if u := strings.TrimSpace(line); strings.HasPrefix(u, "sa_") {
			dc.Tool(t, "user", "delete", u)
		}
	}
	start := fileSize(t, dc.Log)

	for _, u := range captureUsers {
		dc.Tool(t, "user", "create", u, capturePassword)
	}
	// Good logons: Kerberos, SMB NTLM and an LDAPS simple bind, from one client.
	good := dc.Via(t, captureOther)
	for _, u := range []string{"sa_frodo", "sa_sam"} {
		must(t, good.Kinit(u, capturePassword))
		must(t, good.SMBLogon(u, capturePassword, "SA-BAGEND"))
	}
	// A Kerberos SMB session with sa_sam's TGT: Samba logs it as an Authorization, and logs
	// neither the TGS exchange nor a password check.
	smbHost, smbPort, _ := net.SplitHostPort(good.SMBAddr())
	_, err := good.Command("smbclient", "-L", "//"+dc.FQDN, "-I", smbHost, "-p", smbPort, "--use-kerberos=required")
	must(t, err)
	_, err = good.LDAPSearch("sa_sam@"+strings.ToLower(dc.Realm), capturePassword, "(sAMAccountName=sa_sam)", "dn")
	must(t, err)
	// Account enumeration then a password spray, from one client.
	spray := dc.Via(t, captureSpray)
	for _, u := range captureGhosts {
		mustFail(t, spray.Kinit(u, "Winter2026!"))
	}
	for _, u := range captureSprayed {
		mustFail(t, spray.Kinit(u, "Winter2026!"))
	}
	// A brute force of one account over SMB.
	for i := range captureBrutePulls {
		mustFail(t, good.SMBLogon("sa_bilbo", fmt.Sprintf("Guess-%02d!", i), "SA-KALI"))
	}
	dc.Tool(t, "group", "addmembers", "Domain Admins", "sa_merry")
	dc.Tool(t, "user", "setpassword", "sa_pippin", "--newpassword=Sa-Reset-Pass-2026!")

	time.Sleep(2 * time.Second) // let Samba's processes write their last records
	f, err := os.Open(dc.Log)
	must(t, err)
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	logged, err := io.ReadAll(f)
	must(t, err)
	logged = logged[:bytes.LastIndexByte(logged, '\n')+1]
	must(t, os.WriteFile(filepath.Join("testdata", "samba-audit.log"), logged, 0o644))

	filter := "(|(sAMAccountName=sa_*)(sAMAccountName=Administrator)(sAMAccountName=" + strings.ToUpper(dc.Host) + "$))"
	ldif, err := dc.LDAPSearch(dc.BindDN(), dc.AdminPassword, filter, "-LLL", "objectClass", "distinguishedName",
		"sAMAccountName", "userPrincipalName", "objectSid", "objectGUID", "userAccountControl", "dNSHostName", "memberOf")
	must(t, err)
	must(t, os.WriteFile(filepath.Join("testdata", "accounts.ldif"), []byte(ldif), 0o644))
	t.Logf("captured %d bytes of %s", len(logged), dc.Log)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	must(t, err)
	return st.Size()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustFail(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("a logon with a wrong password or an unknown name succeeded")
	}
}
