package detect

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// Recordings the credential-access tests use; paths are under shared/data.
const (
	credAccessBruteForceFile = "evtx-to-mitre-attack/ndjson/ID4771-Kerberos brutforce with valid user.json"
	credAccessKerbruteFile   = "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json"
	credAccessKerberoastFile = "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json"
	credAccessASREPFile      = "evtx-to-mitre-attack/ndjson/ID4768-Kerberos AS-REP Roasting.json"
	credAccessBackgroundFile = "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json"
)

// credAccessRun replays a recording through one detector and merges the alerts, as the
// runner does.
func credAccessRun(t *testing.T, file string, d detection.Detector) []*adjoinv1.Alert {
	t.Helper()
	return credAccessReplay(d, sample.Events(t, file))
}

func credAccessReplay(d detection.Detector, events []*adjoinv1.Event) []*adjoinv1.Alert {
	var alerts []*adjoinv1.Alert
	for _, ev := range events {
		alerts = append(alerts, detection.Run([]detection.Detector{d}, ev)...)
	}
	return detection.Merge(alerts)
}

// credAccessOthers lists the recordings under shared/data matching pattern, minus the named
// ones: the negative controls of a detector.
func credAccessOthers(t *testing.T, pattern string, except ...string) []string {
	t.Helper()
	dir := sample.Dir(t)
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings match %s: %v", pattern, err)
	}
	var out []string
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		if !slices.Contains(except, rel) {
			out = append(out, rel)
		}
	}
	return out
}

// credAccessSummary is what the tests check of an alert: the actor's domain\sam, the first
// target account's sam, the source address or name, the target computer and the evidence
// count.
type credAccessSummary struct {
	Actor, Target, Source, Computer string
	Evidence                        int
}

func credAccessSummarize(a *adjoinv1.Alert) credAccessSummary {
	var s credAccessSummary
	for _, e := range a.GetEntities() {
		switch {
		case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_ACTOR && s.Actor == "":
			s.Actor = e.GetDomain() + `\` + e.GetSamAccountName()
		case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_USER && s.Target == "":
			s.Target = e.GetSamAccountName()
		case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST && s.Source == "":
			s.Source = e.GetIp()
			if s.Source == "" {
				s.Source = e.GetNetbiosName() + e.GetDnsHostName()
			}
		case e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_TARGET && e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER && s.Computer == "":
			s.Computer = e.GetDnsHostName() + e.GetNetbiosName()
		}
	}
	s.Evidence = len(a.GetEvidence())
	return s
}

// credAccessCheckAlert checks the fields every alert of these detectors must carry.
func credAccessCheckAlert(t *testing.T, a *adjoinv1.Alert, detector, technique string) {
	t.Helper()
	if a.GetId() == "" || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY || a.GetSource() != "adjoin-dcingest" ||
		a.GetDetector() != detector || a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS ||
		!slices.Equal(a.GetMitreTechniques(), []string{technique}) || a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_NEW ||
		a.GetVersion() != 1 || a.GetTitle() == "" || a.GetDescription() == "" || a.GetSeverity() == adjoinv1.Severity_SEVERITY_UNSPECIFIED {
		t.Errorf("alert fields: %v", a)
	}
	if a.GetFirstActivity().AsTime().After(a.GetLastActivity().AsTime()) {
		t.Errorf("activity %v after %v", a.GetFirstActivity().AsTime(), a.GetLastActivity().AsTime())
	}
	for _, e := range a.GetEvidence() {
		if e.GetKind() != "windows-event" || e.GetSummary() == "" || e.GetHost() == "" || e.GetEventId() == "" || len(e.GetFields()) == 0 {
			t.Errorf("evidence fields: %v", e)
		}
	}
}

// credAccessEvent is a hand-written Security event, for cases no recording covers.
func credAccessEvent(id int32, host string, at time.Time, record int64, fields map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: "Security", EventId: id, Host: host, Time: timestamppb.New(at), RecordId: record, Fields: fields}
}

// credAccessDetectors are fresh instances of every credential-access detector.
func credAccessDetectors() []detection.Detector {
	return []detection.Detector{NewPasswordSpray(), NewPasswordBruteForce(), NewKerberoasting(), NewASREPRoasting()}
}

func TestCredAccessIDsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	for _, file := range []string{credAccessBruteForceFile, credAccessKerbruteFile, credAccessKerberoastFile, credAccessASREPFile} {
		events := sample.Events(t, file)
		for i := range credAccessDetectors() {
			first := credAccessReplay(credAccessDetectors()[i], events)
			second := credAccessReplay(credAccessDetectors()[i], events)
			if len(first) != len(second) {
				t.Fatalf("%s: %d then %d alerts", file, len(first), len(second))
			}
			for j := range first {
				if first[j].GetId() != second[j].GetId() {
					t.Errorf("%s %s: ids differ between replays", file, first[j].GetDetector())
				}
			}
		}
	}
}

// TestCredAccessSilentOnOtherRecordings runs every detector over the OTRF host captures
// (S1–S11: ordinary AES TGS/TGT traffic, no failed logons) and the S13 samples of other
// techniques (golden ticket, BloodHound, DCSync, PsExec...). Each file is parsed once.
func TestCredAccessSilentOnOtherRecordings(t *testing.T) {
	t.Parallel()
	positives := map[string][]string{
		"password-spray":       {credAccessKerbruteFile},
		"password-brute-force": {credAccessBruteForceFile},
		"kerberoasting":        {credAccessKerberoastFile},
		"asrep-roasting":       {credAccessASREPFile, credAccessKerbruteFile},
	}
	files := append(credAccessOthers(t, "otrf/host/*.json"), credAccessOthers(t, "evtx-to-mitre-attack/ndjson/*.json")...)
	for _, file := range files {
		events := sample.Events(t, file)
		for _, d := range credAccessDetectors() {
			if slices.Contains(positives[d.Name()], file) {
				continue
			}
			for _, a := range credAccessReplay(d, events) {
				t.Errorf("%s: unexpected %s alert %s: %s", file, d.Name(), a.GetTitle(), a.GetDescription())
			}
		}
	}
}

// TestCredAccessBackgroundPlaybook logs what fires on S12, whose ground truth is deliberately
// not written down; nothing is asserted.
func TestCredAccessBackgroundPlaybook(t *testing.T) {
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	t.Parallel()
	events := sample.Events(t, credAccessBackgroundFile)
	for _, d := range credAccessDetectors() {
		alerts := credAccessReplay(d, events)
		t.Logf("%s: %d alert(s)", d.Name(), len(alerts))
		for _, a := range alerts {
			t.Logf("  %s [%s..%s] %+v: %s", a.GetTitle(), a.GetFirstActivity().AsTime().Format(time.RFC3339Nano),
				a.GetLastActivity().AsTime().Format(time.RFC3339Nano), credAccessSummarize(a), a.GetDescription())
		}
	}
}
