package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// One PsExec seen by Security 5145 (binary written to ADMIN$, svcctl, its pipes) and 4697/7045
// (the installation) is one alert when the two detectors share their episodes, two without:
// remote from a client address (the CC0 recording, SharpSC), and a local PsExec -s whose pipes
// are opened from the host's own link-local address (the account on the target joins them).
func TestRemoteExecutionPairIsOneAlert(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json",
		"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
		"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",
	} {
		t.Run(file, func(t *testing.T) {
			apart := adjRun(t, []detection.Detector{NewRemoteServiceCreation(), NewSMBRemoteExecution()}, file)
			if len(apart) != 2 {
				t.Fatalf("the detectors apart raise %d alerts, want one each (the test is void): %v", len(apart), apart)
			}
			rsc, smb := NewRemoteExecutionPair()
			paired := adjRun(t, []detection.Detector{rsc, smb}, file)
			if len(paired) != 1 {
				t.Fatalf("paired: %d alerts, want one: %v", len(paired), paired)
			}
			var evidence int
			for _, a := range apart {
				evidence += len(a.GetEvidence())
			}
			if got := len(paired[0].GetEvidence()); got != evidence {
				t.Errorf("the one alert holds %d pieces of evidence, want both detectors' %d", got, evidence)
			}
			if paired[0].GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
				t.Errorf("severity %s, want HIGH", paired[0].GetSeverity())
			}
		})
	}
}

// Two accounts executing on one host from two clients are two alerts still, and so is one
// client again past the window: the pair joins one execution, not a host's history
// (hand-written 5145s: no recording holds two clients on one target).
func TestRemoteExecutionPairKeepsClientsApart(t *testing.T) {
	t.Parallel()
	bob := smbExecEvent(1, "bob", "10.0.0.2", "IPC$", "svcctl", "0x3")
	bob.Fields["SubjectUserSid"] = "S-1-5-21-1-2-3-1106"
	events := []*adjoinv1.Event{
		smbExecEvent(0, "alice", "10.0.0.1", "ADMIN$", "svc.exe", "0x2"),
		bob,
		smbExecEvent(2, "alice", "10.0.0.1", "IPC$", "svcctl", "0x3"),
		smbExecEvent(900, "alice", "10.0.0.1", "IPC$", "svcctl", "0x3"), // 15 minutes on
	}
	rsc, smb := NewRemoteExecutionPair()
	alerts := adjRunEvents([]detection.Detector{rsc, smb}, events)
	if len(alerts) != 3 {
		t.Fatalf("%d alerts, want 3 (alice, bob, alice again): %v", len(alerts), alerts)
	}
}

// An access with neither a client address nor an account SID names no shared key: two such
// accesses by two accounts on one host stay two alerts (hand-written 5145s).
func TestRemoteExecutionPairNoKeyJoinsNothing(t *testing.T) {
	t.Parallel()
	var events []*adjoinv1.Event
	for i, user := range []string{"alice", "bob"} {
		ev := smbExecEvent(i, user, "", "IPC$", "svcctl", "0x3")
		ev.Fields["SubjectUserSid"] = ""
		events = append(events, ev)
	}
	rsc, smb := NewRemoteExecutionPair()
	if alerts := adjRunEvents([]detection.Detector{rsc, smb}, events); len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2 (alice, bob): %v", len(alerts), alerts)
	}
}
