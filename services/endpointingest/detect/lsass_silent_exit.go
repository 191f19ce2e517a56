package detect

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// LSASSSilentProcessExit raises an alert when Windows' silent process exit monitoring is
// pointed at lsass.exe, which makes WerFault.exe write a full LSASS memory dump on request
// (lsassSilentProcessExit, nanodump --silent-process-exit) without the dumping tool ever
// reading LSASS memory itself:
//   - a registry write (Sysmon 12/13/14, Security 4657) under
//     ...\SilentProcessExit\lsass.exe (ReportingMode, LocalDumpFolder, DumpType), or of
//     GlobalFlag under ...\Image File Execution Options\lsass.exe;
//   - Application 3001, the monitor reporting a silent exit of lsass.exe (the dump).
//
// One alert per host and episode (Episodes' window): the keys and the dump of one run.
type LSASSSilentProcessExit struct {
	// Episodes groups the traces of one run; NewLSASSSilentProcessExit makes one when none is set.
	Episodes *CredEpisodes
}

// NewLSASSSilentProcessExit returns the detector with its own episode table.
func NewLSASSSilentProcessExit() *LSASSSilentProcessExit {
	return &LSASSSilentProcessExit{Episodes: NewCredEpisodes()}
}

// Name implements detection.Detector.
func (d *LSASSSilentProcessExit) Name() string { return "lsass-silent-process-exit" }

// Detect implements detection.Detector.
func (d *LSASSSilentProcessExit) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	var what, user string
	var evidence *adjoinv1.Evidence
	switch id := ev.GetEventId(); {
	case (id == 12 || id == 13 || id == 14) && detection.IsSysmon(ev):
		key := f["TargetObject"]
		if !credSilentExitKey(key) {
			return nil
		}
		what, user = detection.BaseName(f["Image"])+" set "+key, f["User"]
		evidence = credEvidence(ev, "sysmon", fmt.Sprintf("%d %s: %s = %s", id, detection.BaseName(f["Image"]), key, f["Details"]),
			detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "TargetObject", "Details", "EventType", "User"))
	case id == 4657 && detection.IsSecurity(ev):
		key := f["ObjectName"] + `\` + f["ObjectValueName"]
		if !credSilentExitKey(key) {
			return nil
		}
		what, user = detection.BaseName(f["ProcessName"])+" set "+key, credUserOf(f)
		evidence = credEvidence(ev, "windows-event", fmt.Sprintf("4657 %s: %s = %s", detection.BaseName(f["ProcessName"]), key, f["NewValue"]),
			detection.Pick(f, "ProcessName", "ProcessId", "ObjectName", "ObjectValueName", "NewValue", "SubjectUserName", "SubjectDomainName", "SubjectLogonId"))
	case id == 3001 && strings.EqualFold(ev.GetChannel(), "Application"):
		if !credMentionsLSASS(f) {
			return nil
		}
		first, _, _ := strings.Cut(f["Message"], "\n")
		what = "the silent process exit monitor reported lsass.exe (a dump was requested)"
		evidence = credEvidence(ev, "windows-event", "3001 silent process exit of lsass.exe: "+strings.TrimSpace(first), credNonEmpty(f))
	default:
		return nil
	}
	a := credAlert(ev, d.Name(), []string{ev.GetTime().AsTime().UTC().Format("2006-01-02T15:04:05")}, adjoinv1.Severity_SEVERITY_HIGH,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, []string{"T1003.001"},
		"Credential dumping: LSASS dumped through silent process exit monitoring",
		fmt.Sprintf("On %s, %s.", ev.GetHost(), what))
	key := credImageKey(ev.GetHost(), "silent-process-exit")
	a.Id = d.Episodes.Claim(credKeys(key), credKeys(key), detection.TraceOf(ev), a.GetId())
	credAddEntity(a, detection.UserRef(user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	a.Evidence = []*adjoinv1.Evidence{evidence}
	return []*adjoinv1.Alert{a}
}

// credSilentExitKey reports a registry path that arms silent process exit dumps of lsass.exe.
func credSilentExitKey(key string) bool {
	l := strings.ToLower(key)
	if strings.Contains(l, `\silentprocessexit\lsass.exe`) {
		return true
	}
	return strings.Contains(l, `\image file execution options\lsass.exe`) && strings.HasSuffix(l, `\globalflag`)
}

// credMentionsLSASS reports an event whose data or message names lsass.exe.
func credMentionsLSASS(f map[string]string) bool {
	for _, v := range f {
		if strings.Contains(strings.ToLower(v), "lsass.exe") {
			return true
		}
	}
	return false
}

// credNonEmpty keeps the fields that say something, the message cut to its first line.
func credNonEmpty(f map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range f {
		if v == "" || v == "-" {
			continue
		}
		if k == "Message" {
			v, _, _ = strings.Cut(v, "\n")
		}
		out[k] = v
	}
	return out
}
