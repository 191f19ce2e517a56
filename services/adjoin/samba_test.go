//go:debug x509negativeserial=1

package adjoin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sambatest"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestSambaEndToEnd runs the whole system against a real Samba AD domain controller: accounts
// made with samba-tool reach adjoin_directory through LDAP (over LDAPS, with the DC's CA), the
// DC ingestor tails the DC's JSON audit log, and real traffic — Kerberos logons and a password
// spray with kinit, an NTLM brute force with smbclient, a Domain Admins addition, a password
// reset, an LDAPS simple bind — gives the expected alerts on the right users, seen through
// `adjoin badge get` and `adjoin alerts`.
func TestSambaEndToEnd(t *testing.T) {
	dc := sambatest.Load(t)
	if testing.Short() {
		t.Skip("end to end against the Samba DC: not in -short")
	}
	sfx := make([]byte, 2)
	rand.Read(sfx)
	p := "e2e" + hex.EncodeToString(sfx) // unique per run: the DC lives across test runs
	pass := "Adjoin-E2e-" + hex.EncodeToString(sfx) + "!x"
	spn, nopre, bf, da := p+"_spn", p+"_nopre", p+"_bf", p+"_da"
	var spray []string
	for i := range 12 {
		spray = append(spray, fmt.Sprintf("%s_s%02d", p, i))
	}
	ws := strings.ToUpper(p) + "WS"
	for _, u := range append([]string{spn, nopre, bf, da}, spray...) {
		dc.Tool(t, "user", "create", u, pass)
	}
	dc.Tool(t, "spn", "add", "MSSQLSvc/"+p+"-db."+strings.ToLower(dc.Realm)+":1433", spn)
	dc.Tool(t, "computer", "create", ws, "--description=adjoin end-to-end workstation")
	setNoPreauth(t, dc, nopre)

	pwFile := filepath.Join(t.TempDir(), "ldap-password")
	if err := os.WriteFile(pwFile, []byte(dc.AdminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// What `adjoin dev --netbios-domain --ldap-* --samba-log --samba-dc` sets.
	s := startStackWith(t, func(c *DevConfig) {
		c.NetBIOSDomain = dc.Domain
		c.LDAP = dcingest.LDAPSettings{URL: dc.LDAPSURL(), BindDN: dc.BindDN(), PasswordFile: pwFile, CAFile: dc.CA,
			ServerName: dc.FQDN, Interval: time.Second, FullInterval: time.Hour, PageSize: 500, Timeout: 10 * time.Second}
		c.Samba = dcingest.SambaConfig{Log: dc.Log, DC: dc.FQDN}
		c.DCIngest = func(c *dcingest.Config) { c.HTTP.TailPoll = 200 * time.Millisecond }
	})

	// 1. The directory comes from the DC over LDAP, SIDs and GUIDs included.
	want := dc.Show(t, spn)
	testkit.Eventually(t, 60*time.Second, func() error {
		resp, err := s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: dc.Domain + `\` + spn}}})
		if err != nil {
			return err
		}
		b := resp.GetBadge()
		if b.GetEntity().GetSid() != want["objectSid"] || b.GetEntity().GetObjectGuid() != want["objectGUID"] {
			return fmt.Errorf("%s synced as sid %q guid %q, want %q %q", spn, b.GetEntity().GetSid(), b.GetEntity().GetObjectGuid(), want["objectSid"], want["objectGUID"])
		}
		return nil
	})
	testkit.Eventually(t, 30*time.Second, func() error {
		resp, err := s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: ws}}})
		if err != nil {
			return err
		}
		if k := resp.GetBadge().GetEntity().GetKind(); k != adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
			return fmt.Errorf("computer %s synced as %v", ws, k)
		}
		return nil
	})

	// The directory says what AD says: the SPN, the pre-authentication flag, and Domain Admins
	// membership (once made below) as privileged.
	if e := s.badge(t, dc.Domain+`\`+spn).GetEntity(); len(e.GetServicePrincipalNames()) != 1 {
		t.Errorf("%s SPNs = %v", spn, e.GetServicePrincipalNames())
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		resp, err := s.badges.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: dc.Domain + `\` + nopre}}})
		if err != nil {
			return err
		}
		if uac := resp.GetBadge().GetEntity().GetUserAccountControl(); uac&0x400000 == 0 {
			return fmt.Errorf("%s userAccountControl = %#x, want DONT_REQ_PREAUTH", nopre, uac)
		}
		return nil
	})

	// detectorsOf lists the detectors of name's alerts. The service reads the DC's log from its
	// start: on a DC that earlier runs sprayed from the same address within the spray window,
	// their episode is still open and the good logons below would be its successes. make
	// test-samba and make test start a fresh DC (deploy/samba/with-dc.sh).
	alertsOf := func(name string) []*adjoinv1.Alert {
		resp, err := s.badges.ListEntityAlerts(context.Background(), &adjoinv1.ListEntityAlertsRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: dc.Domain + `\` + name}}, PageSize: 100})
		if err != nil {
			t.Fatalf("ListEntityAlerts(%s): %v", name, err)
		}
		return resp.GetAlerts()
	}
	detectorsOf := func(name string) []string {
		var out []string
		for _, a := range alertsOf(name) {
			out = append(out, a.GetDetector())
		}
		return out
	}
	// 2. Real traffic, from a client address (the DC is on loopback, which detectors ignore).
	client := dc.Via(t, sambatest.OtherAddress(t))
	// Good logons first (negative control): a success from a source after its spray would be
	// the spray's success, and rightly an alert.
	if err := client.Kinit(spn, pass); err != nil {
		t.Fatal(err)
	}
	if err := client.SMBLogon(spn, pass, "WS01"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.LDAPSearch(spn+"@"+strings.ToLower(dc.Realm), pass, "(sAMAccountName="+spn+")", "dn"); err != nil {
		t.Fatal(err)
	}
	sprayAs := func(users []string) {
		for _, u := range users {
			if err := client.Kinit(u, "Summer2026!"); err == nil {
				t.Fatalf("kinit %s with a wrong password succeeded", u)
			}
		}
	}
	// The spray reaches its threshold (10 accounts), the alert is counted, and only then does
	// it go on: the last two accounts come in a later batch, as a new version of the alert.
	sprayAs(spray[:10])
	testkit.Eventually(t, 60*time.Second, func() error {
		if got := detectorsOf(spray[0]); !slices.Contains(got, "password-spray") {
			return fmt.Errorf("%s has alerts %v, want password-spray", spray[0], got)
		}
		return nil
	})
	sprayAs(spray[10:])
	for range 22 { // password-brute-force: 20 failures in 5 minutes
		if err := client.SMBLogon(bf, "Winter2026!", "KALI"); err == nil {
			t.Fatalf("smbclient as %s with a wrong password succeeded", bf)
		}
	}
	dc.Tool(t, "group", "addmembers", "Domain Admins", da)
	dc.Tool(t, "user", "setpassword", da, "--newpassword="+pass+"2")

	// 3. The alerts, on the right users.
	expect := map[string]string{bf: "password-brute-force", da: "privileged-group-addition"}
	for _, u := range spray {
		expect[u] = "password-spray"
	}
	testkit.Eventually(t, 60*time.Second, func() error {
		for u, det := range expect {
			if got := detectorsOf(u); !slices.Contains(got, det) {
				return fmt.Errorf("%s has alerts %v, want %s", u, got, det)
			}
		}
		return nil
	})
	s.settled(t)
	// The spray alert the last accounts carry is a later version of the one on the first.
	for _, a := range alertsOf(spray[11]) {
		if a.GetDetector() == "password-spray" && a.GetVersion() < 2 {
			t.Errorf("%s: spray alert %s at version %d, want a later version than the first", spray[11], a.GetId(), a.GetVersion())
		}
	}
	for _, u := range []string{bf, da, spray[0]} {
		t.Logf("%s: %v", u, detectorsOf(u))
	}
	for _, u := range []string{spn, nopre} {
		if got := detectorsOf(u); len(got) != 0 {
			t.Errorf("%s (good logons only) has alerts %v, want none", u, got)
		}
	}

	testkit.Eventually(t, 30*time.Second, func() error {
		if !s.badge(t, dc.Domain+`\`+da).GetEntity().GetPrivileged() {
			return fmt.Errorf("%s is not privileged after joining Domain Admins", da)
		}
		return nil
	})

	// 4. `adjoin badge get` and `adjoin alerts` show them.
	out, errOut, code := run(t, "badge", "get", "--badge-addr="+s.GRPCAddr, dc.Domain+`\`+bf)
	if want := fmt.Sprintf("identity  %d alert(s)", len(detectorsOf(bf))); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("adjoin badge get: code %d\n%s%s", code, out, errOut)
	}
	t.Logf("adjoin badge get %s:\n%s", bf, out)
	out, errOut, code = run(t, "alerts", "--badge-addr="+s.GRPCAddr, dc.Domain+`\`+da)
	if code != 0 || !strings.Contains(out, "[privileged-group-addition]") {
		t.Fatalf("adjoin alerts: code %d\n%s%s", code, out, errOut)
	}
	// The sync status is on the status page.
	out, _, _ = run(t, "status", "--badge-addr="+s.GRPCAddr)
	if !strings.Contains(out, "ldap:") {
		t.Errorf("adjoin status shows no LDAP sync:\n%s", out)
	}
}

// setNoPreauth sets DONT_REQ_PREAUTH (0x400000) on a user, the AS-REP roasting exposure.
func setNoPreauth(t *testing.T, dc *sambatest.DC, sam string) {
	t.Helper()
	uac, err := strconv.ParseUint(dc.Show(t, sam)["userAccountControl"], 10, 32)
	if err != nil {
		t.Fatalf("userAccountControl of %s: %v", sam, err)
	}
	dn := dc.Show(t, sam)["dn"]
	dc.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: %d\n", dn, uac|0x400000))
}
