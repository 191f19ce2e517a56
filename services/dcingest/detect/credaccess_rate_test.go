package detect

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/sambaaudit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// S12: PurpleSharp tries one password against 7 accounts within a second from WORKSTATION5
// (LogonUser, so 4625 type 2 there with no address, and 4776 on MORDORDC naming the
// workstation). Both halves come from one source, WORKSTATION5: one spray alert under the
// fast tier; none of its failures is a brute force.
func TestPasswordSprayPurpleSharpBackground(t *testing.T) {
	t.Parallel()
	events := sample.Events(t, credAccessBackgroundFile)
	a := credAccessExpectOne(t, credAccessReplay(NewPasswordSpray(), events), "password-spray", "T1110.003",
		credAccessSummary{Actor: `theshire\pgustavo`, Target: "lrodriguez", Source: "workstation5", Computer: "WORKSTATION5.theshire.local", Evidence: 14})
	// 4625 names the account with its domain and 4776 without: two references per account.
	targets := sprayTargets(a)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	if !slices.Equal(targets, []string{"lrodriguez", "mscott", "nxlogsvc", "pbeesly", "pgustavo", "sbeavers", "sysmonsvc"}) {
		t.Errorf("targets = %v", targets)
	}
	ids := map[string]int{}
	for _, e := range a.GetEvidence() {
		ids[e.GetEventId()]++
	}
	if ids["4625"] != 7 || ids["4776"] != 7 {
		t.Errorf("evidence event ids = %v, want 7 of 4625 and 7 of 4776", ids)
	}
	if bf := credAccessReplay(NewPasswordBruteForce(), events); len(bf) != 0 {
		t.Errorf("brute force on a one-attempt-per-account spray: %v", bf)
	}
}

// The real Samba DC capture (pkg/ingest/sambaaudit/testdata), with its clients moved onto
// loopback as they are on a DC whose tools run on it or come through a local proxy: every
// "remoteAddress" of the relays (192.0.2.2, fd00::2) is rewritten to 127.0.0.1 / ::1, and the
// scenario is cut to the size (8 sprayed accounts, 15 NTLM failures for sa_bilbo).
// The lines are otherwise the captured ones. The Kerberos spray has no address and no
// workstation name left: it comes from the DC itself. The SMB brute force keeps its
// workstation name, SA-KALI. Both stay under the slow thresholds (10 accounts, 20 failures)
// and are found by the fast ones.
func TestSprayAndBruteForceOverSambaLoopback(t *testing.T) {
	t.Parallel()
	events := sambaLoopbackEvents(t, 8, 15)
	spray := credAccessExpectOne(t, credAccessReplay(NewPasswordSpray(), events), "password-spray", "T1110.003",
		credAccessSummary{Target: "sa_spray01", Source: "adjoindc.adjoin.test", Computer: "adjoindc.adjoin.test", Evidence: 8})
	if d := spray.GetDescription(); !strings.Contains(d, "itself (loopback or no client address)") {
		t.Errorf("description does not say the source is the DC itself: %s", d)
	}
	if targets := sprayTargets(spray); len(targets) != 8 {
		t.Errorf("targets = %v, want the 8 sprayed accounts", targets)
	}
	credAccessExpectOne(t, credAccessReplay(NewPasswordBruteForce(), events), "password-brute-force", "T1110.001",
		credAccessSummary{Target: "sa_bilbo", Source: "sa-kali", Computer: "adjoindc.adjoin.test", Evidence: 15})
	// Negative control: the slow tiers alone stay silent on this cut.
	slowSpray, slowBF := NewPasswordSpray(), NewPasswordBruteForce()
	slowSpray.FastThreshold, slowBF.FastThreshold = 0, 0
	if a := credAccessReplay(slowSpray, events); len(a) != 0 {
		t.Errorf("slow spray tier alone: %d alerts", len(a))
	}
	if a := credAccessReplay(slowBF, events); len(a) != 0 {
		t.Errorf("slow brute-force tier alone: %d alerts", len(a))
	}
}

// sambaLoopbackEvents reads the Samba capture as described above, keeping the first sprays
// sprayed accounts and the first bilbo wrong passwords of sa_bilbo.
func sambaLoopbackEvents(t *testing.T, sprays, bilbo int) []*adjoinv1.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "pkg", "ingest", "sambaaudit", "testdata", "samba-audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	loopback := strings.NewReplacer(`"remoteAddress": "ipv4:192.0.2.2:`, `"remoteAddress": "ipv4:127.0.0.1:`,
		`"remoteAddress": "ipv6:fd00::2:`, `"remoteAddress": "ipv6:::1:`)
	var out []*adjoinv1.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := loopback.Replace(sc.Text())
		if strings.Contains(line, `"clientAccount": "sa_spray`) {
			var i int
			if _, err := fmt.Sscanf(line[strings.Index(line, `"clientAccount": "sa_spray`)+len(`"clientAccount": "sa_spray`):], "%d", &i); err != nil || i > sprays {
				continue
			}
		}
		if strings.Contains(line, `"clientAccount": "sa_bilbo"`) && strings.Contains(line, "NT_STATUS_WRONG_PASSWORD") {
			if bilbo == 0 {
				continue
			}
			bilbo--
		}
		kind, ev, err := sambaaudit.Parse([]byte(line))
		if err != nil {
			t.Fatalf("samba-audit.log:%d: %v", n, err)
		}
		if kind == sambaaudit.AuditEvent {
			out = append(out, ev.Adjoin("adjoindc.adjoin.test"))
		}
	}
	return out
}

// credAccessExpectOne checks that alerts are one alert of detector, summarised as want.
func credAccessExpectOne(t *testing.T, alerts []*adjoinv1.Alert, detector, technique string, want credAccessSummary) *adjoinv1.Alert {
	t.Helper()
	if len(alerts) != 1 {
		t.Fatalf("%d %s alerts, want 1: %v", len(alerts), detector, alerts)
	}
	credAccessCheckAlert(t, alerts[0], detector, technique)
	if got := credAccessSummarize(alerts[0]); got != want {
		t.Errorf("%s alert = %+v, want %+v", detector, got, want)
	}
	return alerts[0]
}

func sprayTargets(a *adjoinv1.Alert) []string {
	var out []string
	for _, e := range a.GetEntities() {
		if e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER {
			out = append(out, e.GetSamAccountName())
		}
	}
	return out
}

// Hand-written: the fast tier and the slow one feed one alert. A spray that reaches 5
// accounts in a minute, pauses 3 minutes and goes on to 12 accounts is one attack: one alert
// id, although the fast tier's episode ended and the slow tier fired later.
func TestPasswordSprayTiersOneEpisode(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	var events []*adjoinv1.Event
	for i := range 12 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		if i >= 5 {
			at = at.Add(3 * time.Minute)
		}
		events = append(events, credAccessEvent(4771, "DC1.corp.local", at, int64(i), map[string]string{
			"TargetUserName": fmt.Sprintf("user%d", i), "Status": "0x18", "PreAuthType": "2", "IpAddress": "::ffff:10.0.0.9"}))
	}
	alerts := credAccessReplay(NewPasswordSpray(), events)
	if len(alerts) != 1 || len(alerts[0].GetEvidence()) != 12 {
		t.Fatalf("alerts = %v, want one with 12 evidence", alerts)
	}
}

// The episodes the tiers remember are bounded by MaxKeys: past it the oldest source is
// forgotten, and its next failure starts a new episode (a new alert id).
func TestCredAccessTiersBound(t *testing.T) {
	t.Parallel()
	tiers := newCredAccessTiers(2, time.Minute, 0, 0, 3)
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	starts := map[string]time.Time{}
	for i := range 4 {
		key, at := fmt.Sprintf("src%d", i), t0.Add(time.Duration(i)*time.Second)
		tiers.add(key, key, "a", at)
		ep, _ := tiers.add(key, key, "b", at)
		if !ep.Active {
			t.Fatalf("%s not active", key)
		}
		starts[key] = ep.Start
	}
	if n := tiers.episodes.Len(); n != 3 {
		t.Errorf("episodes held = %d, want MaxKeys 3", n)
	}
	if _, ok := tiers.episodes.Get("src0"); ok {
		t.Error("the oldest source is still held past MaxKeys")
	}
	if ep, _ := tiers.add("src3", "src3", "c", t0.Add(5*time.Second)); !ep.Start.Equal(starts["src3"]) {
		t.Errorf("a held source changed its episode: %v, want %v", ep.Start, starts["src3"])
	}
}

// Hand-written (no recording has an NTLM spray through a member server): each attempt is a
// 4625 on the file server, with the client's address and workstation name, and a 4776 on the
// DC naming only the workstation. The DC's events count under the address the file server
// saw for that name: one source, one alert with both hosts' events. A name last seen with an
// address longer than the window ago is not placed.
func TestPasswordSprayPlacesWorkstationNames(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	var events []*adjoinv1.Event
	for i := range 6 {
		at := t0.Add(time.Duration(i) * time.Second)
		user := fmt.Sprintf("user%d", i)
		events = append(events,
			credAccessEvent(4625, "FS1.corp.local", at, int64(100+i), map[string]string{"TargetUserName": user, "TargetDomainName": "CORP",
				"Status": "0xc000006d", "SubStatus": "0xc000006a", "LogonType": "3", "IpAddress": "10.0.0.66", "WorkstationName": "KALI"}),
			credAccessEvent(4776, "DC1.corp.local", at.Add(100*time.Millisecond), int64(200+i), map[string]string{"TargetUserName": user,
				"Workstation": "KALI", "Status": "0xc000006a"}))
	}
	alerts := credAccessReplay(NewPasswordSpray(), events)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
	}
	if got := credAccessSummarize(alerts[0]); got.Source != "10.0.0.66" || got.Evidence != 12 {
		t.Errorf("alert = %+v, want source 10.0.0.66 with 12 evidence", got)
	}
	names := newCredAccessNames(time.Minute, 10)
	names.place(credAccessSource{IP: "10.0.0.66", Host: "KALI"}, t0)
	if s := names.place(credAccessSource{Host: `\\kali`}, t0.Add(30*time.Second)); s.IP != "10.0.0.66" {
		t.Errorf("name within the window placed at %q", s.IP)
	}
	if s := names.place(credAccessSource{Host: "KALI"}, t0.Add(2*time.Minute)); s.IP != "" {
		t.Errorf("name past the window placed at %q", s.IP)
	}
}

// Hand-written: services on a server whose stored passwords went stale fail to log on (4625
// type 5) under five accounts within a minute, logged by the server with no client address.
// That is the server itself retrying configured credentials, not a spray from it; the same
// failures as network logons (type 3) are one.
func TestPasswordSprayIgnoresServiceLogons(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	logons := func(logonType string) []*adjoinv1.Event {
		var out []*adjoinv1.Event
		for i := range 5 {
			out = append(out, credAccessEvent(4625, "APP1.corp.local", t0.Add(time.Duration(i)*time.Second), int64(i), map[string]string{
				"TargetUserName": fmt.Sprintf("svc%d", i), "TargetDomainName": "CORP", "Status": "0xc000006d", "SubStatus": "0xc000006a",
				"LogonType": logonType, "IpAddress": "-", "WorkstationName": "-", "SubjectUserSid": "S-1-5-18"}))
		}
		return out
	}
	if a := credAccessReplay(NewPasswordSpray(), logons("5")); len(a) != 0 {
		t.Errorf("service logons raised %d spray alerts", len(a))
	}
	credAccessExpectOne(t, credAccessReplay(NewPasswordSpray(), logons("3")), "password-spray", "T1110.003",
		credAccessSummary{Target: "svc0", Source: "APP1.corp.local", Computer: "APP1.corp.local", Evidence: 5})
}
