package detect

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// reconBackground is the noisy S12 recording whose ground truth is deliberately unknown: the
// reconnaissance tests only log what fires on it.
const reconBackground = "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json"

// reconEventsCache parses each recording once for all reconnaissance tests (the background
// file is 13 MB). Detectors only read events, so sharing them is safe.
var reconEventsCache = struct {
	sync.Mutex
	m map[string]*reconLoaded
}{m: map[string]*reconLoaded{}}

type reconLoaded struct {
	sync.Mutex
	events []*adjoinv1.Event
}

func reconEvents(t *testing.T, file string) []*adjoinv1.Event {
	t.Helper()
	reconEventsCache.Lock()
	l, ok := reconEventsCache.m[file]
	if !ok {
		l = &reconLoaded{}
		reconEventsCache.m[file] = l
	}
	reconEventsCache.Unlock()
	l.Lock()
	defer l.Unlock()
	if l.events == nil {
		l.events = sample.Events(t, file) // a failure ends this test; the next caller retries
	}
	return l.events
}

// reconRun runs a fresh session table and the detector mk builds over file and merges the
// alerts, as the service does.
func reconRun(t *testing.T, file string, mk func(*Sessions) detection.Detector) []*adjoinv1.Alert {
	t.Helper()
	return reconRunEvents(reconEvents(t, file), mk)
}

func reconRunEvents(events []*adjoinv1.Event, mk func(*Sessions) detection.Detector) []*adjoinv1.Alert {
	sessions := NewSessions(10_000)
	detectors := []detection.Detector{sessions, mk(sessions)}
	var alerts []*adjoinv1.Alert
	for _, ev := range events {
		alerts = append(alerts, detection.Run(detectors, ev)...)
	}
	return detection.Merge(alerts)
}

// reconParse turns hand-written event lines into events, as intake does.
func reconParse(t *testing.T, lines ...string) []*adjoinv1.Event {
	t.Helper()
	var out []*adjoinv1.Event
	for _, l := range lines {
		ev, err := intake.ParseWindows([]byte(l), "")
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, ev)
	}
	return out
}

// reconRef returns the first entity with role, or an empty one.
func reconRef(a *adjoinv1.Alert, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	for _, e := range a.GetEntities() {
		if e.GetRole() == role {
			return e
		}
	}
	return &adjoinv1.EntityRef{}
}

// reconWant is what a test expects of one alert.
type reconWant struct {
	actor    string // domain\sam of the actor, "" for none
	sourceIP string
	source   string // NetBIOS name of the source host, when no address is known
	target   string // host that logged the events (DNS or NetBIOS name), folded
	evidence int
}

// reconCheck compares alerts with want and checks the fields every recon alert must carry.
func reconCheck(t *testing.T, alerts []*adjoinv1.Alert, detector string, techniques []string, want []reconWant) {
	t.Helper()
	if len(alerts) != len(want) {
		for _, a := range alerts {
			t.Logf("got: %s (%d evidence)", a.GetDescription(), len(a.GetEvidence()))
		}
		t.Fatalf("%d alerts, want %d", len(alerts), len(want))
	}
	for i, w := range want {
		a := alerts[i]
		actor := reconRef(a, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
		if got := actor.GetDomain() + `\` + actor.GetSamAccountName(); w.actor != "" && got != w.actor || w.actor == "" && actor.GetSamAccountName() != "" {
			t.Errorf("alert %d actor = %q, want %q", i, got, w.actor)
		}
		src := reconRef(a, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
		if src.GetIp() != w.sourceIP || strings.ToLower(src.GetNetbiosName()) != w.source {
			t.Errorf("alert %d source = ip %q name %q, want ip %q name %q", i, src.GetIp(), src.GetNetbiosName(), w.sourceIP, w.source)
		}
		dst := reconRef(a, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
		if got := strings.ToLower(dst.GetDnsHostName() + dst.GetNetbiosName()); got != w.target {
			t.Errorf("alert %d destination = %q, want %q", i, got, w.target)
		}
		if n := len(a.GetEvidence()); n != w.evidence {
			t.Errorf("alert %d evidence = %d, want %d", i, n, w.evidence)
		}
		if a.GetId() == "" || a.GetDetector() != detector || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY ||
			a.GetSource() != "adjoin-dcingest" || a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE ||
			strings.Join(a.GetMitreTechniques(), ",") != strings.Join(techniques, ",") || a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_NEW ||
			a.GetVersion() != 1 || a.GetTitle() == "" || a.GetDescription() == "" || a.GetFirstActivity().AsTime().After(a.GetLastActivity().AsTime()) {
			t.Errorf("alert %d fields: %v", i, a)
		}
		for _, e := range a.GetEvidence() {
			if e.GetKind() != "windows-event" || e.GetEventId() == "" || e.GetHost() == "" || len(e.GetFields()) == 0 || e.GetTime().AsTime().IsZero() {
				t.Errorf("alert %d evidence: %v", i, e)
			}
		}
	}
}

// reconLogBackground logs what mk raises on the S12 background recording, without asserting.
func reconLogBackground(t *testing.T, mk func(*Sessions) detection.Detector) {
	t.Helper()
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	alerts := reconRun(t, reconBackground, mk)
	t.Logf("S12 background: %d alerts", len(alerts))
	for _, a := range alerts {
		t.Logf("  %s..%s %s [%d evidence]", a.GetFirstActivity().AsTime().Format(time.RFC3339Nano),
			a.GetLastActivity().AsTime().Format(time.RFC3339Nano), a.GetDescription(), len(a.GetEvidence()))
	}
}

// reconIDs returns the alert ids, for replay checks.
func reconIDs(alerts []*adjoinv1.Alert) string {
	var ids []string
	for _, a := range alerts {
		ids = append(ids, a.GetId())
	}
	return strings.Join(ids, ",")
}
