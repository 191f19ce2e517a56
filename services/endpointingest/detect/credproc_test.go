package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// credBackground is the noisy recording whose ground truth is deliberately unknown: what
// the command-line detectors raise on it is logged, not asserted.
const credBackground = "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json"

var credSamples struct {
	sync.Mutex
	m map[string]*credSample
}

type credSample struct {
	once   sync.Once
	events []*adjoinv1.Event
}

// credEvents parses a recording once for all the command-line detector tests.
func credEvents(t *testing.T, file string) []*adjoinv1.Event {
	t.Helper()
	credSamples.Lock()
	if credSamples.m == nil {
		credSamples.m = map[string]*credSample{}
	}
	s, ok := credSamples.m[file]
	if !ok {
		s = &credSample{}
		credSamples.m[file] = s
	}
	credSamples.Unlock()
	s.once.Do(func() { s.events = sample.Events(t, file) })
	if s.events == nil {
		t.Fatalf("no events in %s", file)
	}
	return s.events
}

// credRecordings lists the host recordings and the CC0 samples, the negative controls of
// every detector that does not expect to fire on them.
func credRecordings(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"otrf/host", "evtx-to-mitre-attack/ndjson"} {
		entries, err := os.ReadDir(filepath.Join(sample.Dir(t), dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				out = append(out, dir+"/"+e.Name())
			}
		}
	}
	return out
}

// credRun runs a detector (after a process table, which it may share) over a recording and
// merges the alerts.
func credRun(t *testing.T, file string, procs *Processes, d detection.Detector) []*adjoinv1.Alert {
	t.Helper()
	var alerts []*adjoinv1.Alert
	for _, ev := range credEvents(t, file) {
		procs.Detect(ev)
		alerts = append(alerts, d.Detect(ev)...)
	}
	return detection.Merge(alerts)
}

// credSummary describes an alert as "host actor=domain\sam target=domain\sam evidence=N",
// the users "-" when absent; the summaries come back sorted.
func credSummaries(alerts []*adjoinv1.Alert) []string {
	var out []string
	for _, a := range alerts {
		host, actor, target := "", "-", "-"
		for _, e := range a.GetEntities() {
			switch {
			case e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER && e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST:
				host = e.GetDnsHostName() + e.GetNetbiosName()
			case e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER && e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_ACTOR:
				actor = e.GetDomain() + `\` + e.GetSamAccountName()
			case e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER && e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET:
				target = e.GetDomain() + `\` + e.GetSamAccountName()
			}
		}
		out = append(out, fmt.Sprintf("%s actor=%s target=%s evidence=%d", host, actor, target, len(a.GetEvidence())))
	}
	sort.Strings(out)
	return out
}

// credCheck runs d over every recording: files in want must give exactly those alert
// summaries, all others none. check, when set, looks at each alert of a wanted file.
func credCheck(t *testing.T, newDetector func(*Processes) detection.Detector, want map[string][]string, check func(*testing.T, *adjoinv1.Alert)) {
	t.Helper()
	files := credRecordings(t)
	for w := range want {
		if !slices.Contains(files, w) {
			t.Fatalf("expected recording %s is missing", w)
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			procs := NewProcesses(10000)
			alerts := credRun(t, file, procs, newDetector(procs))
			got := credSummaries(alerts)
			if strings.Join(got, "|") != strings.Join(want[file], "|") {
				t.Errorf("alerts = %q, want %q", got, want[file])
				for _, a := range alerts {
					t.Logf("  %s", a.GetDescription())
				}
			}
			for _, a := range alerts {
				credCheckAlert(t, a)
				if check != nil {
					check(t, a)
				}
			}
		})
	}
	t.Run("background playbook (logged, not asserted)", func(t *testing.T) {
		if testing.Short() {
			t.Skip("13 MB recording")
		}
		t.Parallel()
		procs := NewProcesses(10000)
		for _, a := range credRun(t, credBackground, procs, newDetector(procs)) {
			credCheckAlert(t, a)
			t.Logf("background: %s [%s] %s", a.GetSeverity(), strings.Join(a.GetMitreTechniques(), ","), a.GetDescription())
		}
	})
}

// credCheckAlert checks the fields every endpoint alert must carry.
func credCheckAlert(t *testing.T, a *adjoinv1.Alert) {
	t.Helper()
	if a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT || a.GetSource() != "adjoin-endpointingest" || a.GetId() == "" ||
		a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_NEW || a.GetVersion() != 1 || len(a.GetMitreTechniques()) == 0 ||
		a.GetFirstActivity() == nil || a.GetLastActivity().AsTime().Before(a.GetFirstActivity().AsTime()) || a.GetTitle() == "" {
		t.Errorf("incomplete alert: %v", a)
	}
	for _, e := range a.GetEvidence() {
		if e.GetKind() != "sysmon" && e.GetKind() != "windows-event" || e.GetHost() == "" || e.GetEventId() == "" || len(e.GetFields()) == 0 {
			t.Errorf("incomplete evidence: %v", e)
		}
	}
}

// credProcEvent is a hand-written Sysmon 1 for the command-line variants no recording holds.
func credProcEvent(image, commandLine string) *adjoinv1.Event {
	return &adjoinv1.Event{
		Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 1, Host: "WS1.corp.example",
		Time: timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Fields: map[string]string{
			"Image": image, "CommandLine": commandLine, "User": `CORP\alice`, "LogonId": "0x1234",
			"ProcessGuid": "{00000000-0000-0000-0000-000000000001}", "ProcessId": "4242",
		},
	}
}
