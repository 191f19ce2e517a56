package detect

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

const adjBackground = "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json"

// adjRun feeds the files, in order, through one set of detectors (a Sessions table first when
// given) and returns the merged alerts.
func adjRun(t *testing.T, detectors []detection.Detector, files ...string) []*adjoinv1.Alert {
	t.Helper()
	var events []*adjoinv1.Event
	for _, file := range files {
		events = append(events, sample.Events(t, file)...)
	}
	return adjRunEvents(detectors, events)
}

// adjRunEvents feeds events through one set of detectors and returns the merged alerts.
func adjRunEvents(detectors []detection.Detector, events []*adjoinv1.Event) []*adjoinv1.Alert {
	var alerts []*adjoinv1.Alert
	for _, ev := range events {
		alerts = append(alerts, detection.Run(detectors, ev)...)
	}
	return detection.Merge(alerts)
}

// adjSampleFiles lists every single-scenario recording (OTRF host files and the CC0 NDJSON
// files), leaving out the background playbook and the files named in except.
func adjSampleFiles(t *testing.T, except ...string) []string {
	t.Helper()
	dir := sample.Dir(t)
	var out []string
	for _, pattern := range []string{"otrf/host/*.json", "evtx-to-mitre-attack/ndjson/*.json"} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			rel, _ := filepath.Rel(dir, m)
			if !slices.Contains(except, rel) {
				out = append(out, rel)
			}
		}
	}
	sort.Strings(out)
	if len(out) < 20 {
		t.Fatalf("only %d sample files found", len(out))
	}
	return out
}

// adjRef returns the first entity of an alert with the role and kind.
func adjRef(a *adjoinv1.Alert, kind adjoinv1.EntityKind, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	for _, e := range a.GetEntities() {
		if e.GetKind() == kind && e.GetRole() == role {
			return e
		}
	}
	return nil
}

// adjEventIDs lists the event ids of an alert's evidence, sorted.
func adjEventIDs(a *adjoinv1.Alert) string {
	var ids []string
	for _, e := range a.GetEvidence() {
		ids = append(ids, e.GetEventId())
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// adjCheckCommon checks the fields every alert of these detectors must carry.
func adjCheckCommon(t *testing.T, a *adjoinv1.Alert, detector string) {
	t.Helper()
	if a.GetId() == "" || a.GetDetector() != detector || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY ||
		a.GetSource() != "adjoin-dcingest" || a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_NEW ||
		a.GetVersion() != 1 || a.GetTitle() == "" || a.GetDescription() == "" || len(a.GetMitreTechniques()) == 0 ||
		a.GetFirstActivity() == nil || a.GetUpdatedTime() == nil || len(a.GetEvidence()) == 0 {
		t.Errorf("incomplete alert: %v", a)
	}
	for _, e := range a.GetEvidence() {
		if e.GetKind() != "windows-event" || e.GetHost() == "" || e.GetTime() == nil || e.GetEventId() == "" || len(e.GetFields()) == 0 {
			t.Errorf("incomplete evidence: %v", e)
		}
	}
}

// adjLogBackground logs, without asserting, what each set of detectors raises on the noisy
// background playbook, whose ground truth is deliberately not written down.
func adjLogBackground(t *testing.T, sets ...[]detection.Detector) {
	t.Helper()
	if testing.Short() {
		t.Skip("13 MB recording")
	}
	events := sample.Events(t, adjBackground)
	for i, detectors := range sets {
		alerts := adjRunEvents(detectors, events)
		t.Logf("background playbook, detector set %d: %d alert(s)", i+1, len(alerts))
		for _, a := range alerts {
			t.Logf("  [%s] %s: %s (%d events)", a.GetSeverity(), a.GetTitle(), a.GetDescription(), len(a.GetEvidence()))
		}
	}
}

func TestRemoteServiceCreationOnRecordings(t *testing.T) {
	t.Parallel()
	host := func(a *adjoinv1.Alert) string {
		h := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)
		return h.GetDnsHostName() + h.GetNetbiosName()
	}
	tests := []struct {
		name       string
		file       string
		wantTitle  string // substring
		wantSev    adjoinv1.Severity
		wantPhase  adjoinv1.KillChainPhase
		wantActor  string // sam, "" for none
		wantSource string // source ip, "" for none
		wantHost   string
		wantEvents string // event ids of the evidence
		wantDesc   string // substring
	}{
		{
			name:      "S5 Empire Invoke-PsExec over RPC/TCP: Updater on WORKSTATION6 by pgustavo from WORKSTATION5",
			file:      "otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json",
			wantTitle: "remotely", wantSev: adjoinv1.Severity_SEVERITY_HIGH, wantPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
			wantActor: "pgustavo", wantSource: "172.18.39.5", wantHost: "WORKSTATION6.theshire.local",
			// No 5145: this method speaks RPC over TCP, not \PIPE\svcctl.
			wantEvents: "4697,7045", wantDesc: "service Updater (%COMSPEC%",
		},
		{
			name:      "S6 Covenant SharpSC over svcctl: 4697 Cyb3rWard0g and 7045 OTR are one installation",
			file:      "otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
			wantTitle: "remotely", wantSev: adjoinv1.Severity_SEVERITY_HIGH, wantPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
			wantActor: "pgustavo", wantSource: "172.18.39.5", wantHost: "WORKSTATION6.theshire.local",
			// The 7045 arrives first, alone unremarkable; the 4697's network session decides.
			wantEvents: "4697,5145,5145,7045", wantDesc: "service Cyb3rWard0g (display name OTR)",
		},
		{
			name:      "S11 local PsExec -s: a SYSTEM elevation on WORKSTATION5, not lateral movement",
			file:      "otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",
			wantTitle: "locally", wantSev: adjoinv1.Severity_SEVERITY_MEDIUM, wantPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXECUTION,
			wantActor: "wardog", wantHost: "workstation5",
			wantEvents: "4697,5145,7045", wantDesc: "local PsExec -s",
		},
		{
			name:      "CC0 PsExec to srvdefender01 by admmig from 10.23.42.22, with the ADMIN$ copy of PSEXESVC.exe",
			file:      "evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json",
			wantTitle: "remotely", wantSev: adjoinv1.Severity_SEVERITY_HIGH, wantPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
			wantActor: "admmig", wantSource: "10.23.42.22", wantHost: "srvdefender01.offsec.lan",
			// The binary write and the service pipes come from another session of admmig than
			// the 4697, from the same address.
			wantEvents: "4697,5145,5145,5145,5145,5145,5145,5145,5145", wantDesc: "service PSEXESVC",
		},
		{
			name:      "CC0 lone 7045 PSEXESVC on jump01: fires on the tool name, origin unknown",
			file:      "evtx-to-mitre-attack/ndjson/ID7045-7036 PSexec service installation.json",
			wantTitle: "PsExec-style service installed", wantSev: adjoinv1.Severity_SEVERITY_MEDIUM, wantPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
			wantHost: "jump01.offsec.lan", wantEvents: "7045", wantDesc: "not known",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRun(t, []detection.Detector{NewRemoteServiceCreation()}, tt.file)
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
			}
			a := alerts[0]
			adjCheckCommon(t, a, "remote-service-creation")
			if !strings.Contains(a.GetTitle(), tt.wantTitle) || a.GetSeverity() != tt.wantSev || a.GetKillChainPhase() != tt.wantPhase {
				t.Errorf("title/severity/phase = %q %v %v", a.GetTitle(), a.GetSeverity(), a.GetKillChainPhase())
			}
			actor := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
			if actor.GetSamAccountName() != tt.wantActor {
				t.Errorf("actor = %v, want %q", actor, tt.wantActor)
			}
			if tt.wantActor != "" && (actor.GetSid() == "" || actor.GetDomain() == "") {
				t.Errorf("actor without SID or domain: %v", actor)
			}
			src := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
			if src.GetIp() != tt.wantSource {
				t.Errorf("source = %v, want %q", src, tt.wantSource)
			}
			if h := host(a); h != tt.wantHost {
				t.Errorf("destination host = %q, want %q", h, tt.wantHost)
			}
			if got := adjEventIDs(a); got != tt.wantEvents {
				t.Errorf("evidence events = %s, want %s", got, tt.wantEvents)
			}
			if !strings.Contains(a.GetDescription(), tt.wantDesc) {
				t.Errorf("description %q lacks %q", a.GetDescription(), tt.wantDesc)
			}
			remote := a.GetSeverity() == adjoinv1.Severity_SEVERITY_HIGH
			if remote != slices.Contains(a.GetMitreTechniques(), "T1021.002") || !slices.Contains(a.GetMitreTechniques(), "T1569.002") {
				t.Errorf("techniques = %v", a.GetMitreTechniques())
			}
		})
	}
}

func TestRemoteServiceCreationSilentElsewhere(t *testing.T) {
	t.Parallel()
	for _, file := range adjSampleFiles(t,
		"otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json",
		"otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json",
		"otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json",
		"evtx-to-mitre-attack/ndjson/ID4688,4697,5140-5145 PSexec remote execution + admin share.json",
		"evtx-to-mitre-attack/ndjson/ID7045-7036 PSexec service installation.json",
	) {
		for _, a := range adjRun(t, []detection.Detector{NewRemoteServiceCreation()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestRemoteServiceCreationReplayIsStable(t *testing.T) {
	t.Parallel()
	file := "otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json"
	first := adjRun(t, []detection.Detector{NewRemoteServiceCreation()}, file)
	second := adjRun(t, []detection.Detector{NewRemoteServiceCreation()}, file)
	if len(first) != 1 || len(second) != 1 || first[0].GetId() != second[0].GetId() {
		t.Fatalf("ids differ between replays: %v vs %v", first, second)
	}
}

func TestRemoteServiceCreationBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	adjLogBackground(t, []detection.Detector{NewRemoteServiceCreation()})
}

// rsvcEvent writes an event in the shape of our EVTX→NDJSON conversion and parses it like a
// real line, for the cases no recording holds.
func rsvcEvent(t *testing.T, id int, channel, at string, fields map[string]string) *adjoinv1.Event {
	t.Helper()
	obj := map[string]any{"EventID": id, "Channel": channel, "Computer": "srv01.offsec.lan", "EventRecordID": id, "TimeCreated": at}
	for k, v := range fields {
		obj[k] = v
	}
	line, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := intake.ParseWindows(line, "")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestRemoteServiceCreationHandWritten(t *testing.T) {
	t.Parallel()
	install := func(sid, user, logonID, image string) *adjoinv1.Event {
		return rsvcEvent(t, 4697, "Security", "2021-04-21T09:40:33Z", map[string]string{
			"ServiceName": "FooUpdate", "ServiceFileName": image, "ServiceAccount": "LocalSystem", "ServiceStartType": "2",
			"SubjectUserSid": sid, "SubjectUserName": user, "SubjectDomainName": "OFFSEC", "SubjectLogonId": logonID,
		})
	}
	svcctl := rsvcEvent(t, 5145, "Security", "2021-04-21T09:40:32Z", map[string]string{
		"ShareName": `\\*\IPC$`, "RelativeTargetName": "svcctl", "AccessMask": "0x12019f", "IpAddress": "10.23.42.22",
		"SubjectUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111", "SubjectUserName": "admmig",
		"SubjectDomainName": "OFFSEC", "SubjectLogonId": "0x1376020",
	})
	tests := []struct {
		name       string
		events     []*adjoinv1.Event
		wantSource string // "" for no alert
	}{
		{
			name:   "an ordinary program installed by SYSTEM raises nothing",
			events: []*adjoinv1.Event{install("S-1-5-18", "SRV01$", "0x3e7", `"C:\Program Files\Foo\foo.exe" -service`)},
		},
		{
			name:   "an ordinary program installed by an unknown session, no share access, raises nothing",
			events: []*adjoinv1.Event{install("S-1-5-21-4230534742-2542757381-3142984815-1111", "admmig", "0x1376020", `C:\Program Files\Foo\foo.exe`)},
		},
		{
			// The session's 4624 predates the stream; the svcctl open of the same session
			// places it on 10.23.42.22.
			name:       "svcctl opened by the installing session gives the source",
			events:     []*adjoinv1.Event{svcctl, install("S-1-5-21-4230534742-2542757381-3142984815-1111", "admmig", "0x0000000001376020", `C:\Program Files\Foo\foo.exe`)},
			wantSource: "10.23.42.22",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{NewRemoteServiceCreation()}, tt.events)
			if tt.wantSource == "" {
				if len(alerts) != 0 {
					t.Fatalf("unexpected alerts: %v", alerts)
				}
				return
			}
			if len(alerts) != 1 || alerts[0].GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH ||
				adjRef(alerts[0], adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST).GetIp() != tt.wantSource ||
				adjEventIDs(alerts[0]) != "4697,5145" {
				t.Fatalf("alerts = %v", alerts)
			}
		})
	}
}

func TestRemoteServiceSuspiciousImage(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]bool{
		`%COMSPEC% /Q /c echo dir ^> \\127.0.0.1\C$\__output`:                           true,
		`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -nop -w hidden -c x`: true,
		`C:\Windows\System32\wscript.exe C:\ProgramData\x.vbs`:                          true,
		`%TEMP%\svc.exe`:           true,
		`C:\Windows\Temp\aBcD.exe`: true,
		`C:\PerfLogs\x.exe`:        true,
		`C:\Windows\Microsoft.NET\Framework64\v4.0.30319\MSBuild.exe C:\x.xml`: true,
		`%SystemRoot%\system32\svchost.exe -k netsvcs -p`:                      false,
		`"C:\Program Files\Vendor\agent.exe" --service`:                        false,
		`C:\ProgramData\Microsoft\Windows Defender\Platform\4.18\MsMpEng.exe`:  false,
	} {
		if got := rsvcSuspiciousImage(image); got != want {
			t.Errorf("rsvcSuspiciousImage(%q) = %v, want %v", image, got, want)
		}
	}
}
