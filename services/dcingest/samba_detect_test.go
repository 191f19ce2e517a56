package dcingest_test

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/services/dcingest"
)

// sambaTestdata is a file captured from the lab Samba DC (pkg/ingest/sambaaudit/testdata/README.md).
func sambaTestdata(name string) string {
	return filepath.Join("..", "..", "pkg", "ingest", "sambaaudit", "testdata", name)
}

// sambaEvents parses sample logs as the intake does, failing on a refused line.
func sambaEvents(t *testing.T, host string, names ...string) []*adjoinv1.Event {
	t.Helper()
	parse := intake.ParseSamba(host)
	var out []*adjoinv1.Event
	for _, name := range names {
		b, err := os.ReadFile(sambaTestdata(name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			ev, err := parse(sc.Bytes(), "")
			switch {
			case errors.Is(err, intake.ErrSkip):
			case err != nil:
				t.Fatalf("%s line %d: %v", name, n, err)
			default:
				out = append(out, ev)
			}
		}
	}
	return out
}

// sambaDirectory is the directory of the capture: the sa_ accounts, Administrator and the DC,
// as ldapsearch exported them right after the capture (their real SIDs and DNs).
func sambaDirectory(t *testing.T) *directory.Index {
	t.Helper()
	f, err := os.Open(sambaTestdata("accounts.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entities, err := dcingest.ReadLDIF(f, "", "ldif:accounts.ldif")
	if err != nil {
		t.Fatal(err)
	}
	ix := directory.NewIndex()
	for _, e := range entities {
		ix.Put(e)
	}
	return ix
}

const sambaDomainSID = "S-1-5-21-3936881895-3070845151-3360841461"

// The identity detectors over the captured Samba log raise exactly the alerts of its
// scenario, on the right accounts; the good logons, the password reset and the group changes
// Samba logs when it creates users raise none.
func TestSambaLogDetections(t *testing.T) {
	t.Parallel()
	type want struct {
		detector, title string
		sources         []string // source host addresses
		targets         []string // target users, by sAMAccountName or SID
		actors          []string
	}
	var sprayed []string
	for i := 1; i <= 12; i++ {
		sprayed = append(sprayed, fmt.Sprintf("sa_spray%02d", i))
	}
	tests := []struct {
		name string
		dir  *directory.Index
		want []want
	}{
		{"with the directory", sambaDirectory(t), []want{
			{"account-enumeration", "Account enumeration (many unknown or disabled account names from one source)", []string{"192.0.2.2"}, nil, nil},
			{"password-brute-force", "Password brute force against sa_bilbo", []string{"fd00::2"}, []string{"sa_bilbo"}, nil},
			{"password-spray", "Password spray from 192.0.2.2", []string{"192.0.2.2"}, sprayed, nil},
			{"privileged-group-addition", "Member added to privileged group Domain Admins", nil,
				[]string{sambaDomainSID + "-1193"}, []string{sambaDomainSID + "-500"}},
		}},
		// Without a directory the member, named by DN only, has no entity; the alert stays.
		{"without a directory", directory.NewIndex(), []want{
			{"account-enumeration", "Account enumeration (many unknown or disabled account names from one source)", []string{"192.0.2.2"}, nil, nil},
			{"password-brute-force", "Password brute force against sa_bilbo", []string{"fd00::2"}, []string{"sa_bilbo"}, nil},
			{"password-spray", "Password spray from 192.0.2.2", []string{"192.0.2.2"}, sprayed, nil},
			{"privileged-group-addition", "Member added to privileged group Domain Admins", nil, nil, []string{sambaDomainSID + "-500"}},
		}},
	}
	events := sambaEvents(t, "adjoindc.adjoin.test", "samba-start.log", "samba-audit.log")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ds := dcingest.Detectors(tt.dir, dcingest.DetectorOptions{})
			var alerts []*adjoinv1.Alert
			for _, ev := range events {
				alerts = append(alerts, detection.Run(ds, ev)...)
			}
			var got []want
			for _, a := range detection.Merge(alerts) {
				w := want{detector: a.GetDetector(), title: a.GetTitle()}
				for _, e := range a.GetEntities() {
					name := cmp.Or(e.GetSamAccountName(), e.GetSid())
					switch {
					case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST:
						w.sources = append(w.sources, e.GetIp())
					case e.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER:
					case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET:
						w.targets = append(w.targets, name)
					case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_ACTOR:
						w.actors = append(w.actors, name)
					}
				}
				got = append(got, w)
			}
			slices.SortFunc(got, func(a, b want) int { return strings.Compare(a.detector, b.detector) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("alerts:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The spray's victims are named with the SIDs Samba logged, and the enumerated names that do
// not exist are left out of it.
func TestSambaSprayAlert(t *testing.T) {
	t.Parallel()
	ds := dcingest.Detectors(sambaDirectory(t), dcingest.DetectorOptions{})
	var alerts []*adjoinv1.Alert
	for _, ev := range sambaEvents(t, "adjoindc.adjoin.test", "samba-audit.log") {
		alerts = append(alerts, detection.Run(ds, ev)...)
	}
	for _, a := range detection.Merge(alerts) {
		if a.GetDetector() != "password-spray" {
			continue
		}
		for _, e := range a.GetEntities() {
			if strings.HasPrefix(e.GetSamAccountName(), "sa_ghost") {
				t.Errorf("unknown name %s counted in the spray", e.GetSamAccountName())
			}
			if strings.HasPrefix(e.GetSamAccountName(), "sa_spray") && !strings.HasPrefix(e.GetSid(), sambaDomainSID+"-") {
				t.Errorf("%s without its SID: %v", e.GetSamAccountName(), e)
			}
		}
		for _, ev := range a.GetEvidence() {
			if ev.GetEventId() != "4771" || ev.GetFields()["Status"] != "0x18" {
				t.Errorf("evidence %s %v", ev.GetEventId(), ev.GetFields())
			}
		}
	}
}

// A honeytoken is touched by its Kerberos and NTLM logons in a Samba log as in Windows events.
func TestSambaHoneytoken(t *testing.T) {
	t.Parallel()
	ds := dcingest.Detectors(sambaDirectory(t), dcingest.DetectorOptions{Honeytokens: []string{"sa_frodo"}})
	var alerts []*adjoinv1.Alert
	for _, ev := range sambaEvents(t, "adjoindc.adjoin.test", "samba-audit.log") {
		alerts = append(alerts, detection.Run(ds, ev)...)
	}
	var evidence []string
	for _, a := range detection.Merge(alerts) {
		if a.GetDetector() == "honeytoken-access" {
			for _, e := range a.GetEvidence() {
				evidence = append(evidence, e.GetEventId())
			}
		}
	}
	slices.Sort(evidence)
	if !slices.Equal(evidence, []string{"4624", "4768"}) {
		t.Errorf("honeytoken evidence from events %v, want the 4768 TGT and the 4624 SMB logon", evidence)
	}
}
