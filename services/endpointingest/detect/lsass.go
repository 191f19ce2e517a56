package detect

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Process access rights that read or change another process's memory: what a credential
// dumper needs from lsass.exe (PROCESS_VM_READ 0x10, PROCESS_VM_WRITE 0x20). Query rights
// (0x400, 0x1000) and PROCESS_VM_OPERATION alone, which process listings and monitoring take,
// read nothing.
const memoryAccess = 0x0010 | 0x0020

// Images that open lsass.exe with memory rights as part of Windows, its protection or its
// monitoring; their access is expected. Lower-case full paths, or folders ending in `\`.
var lsassReaders = []string{
	`c:\windows\system32\csrss.exe`,
	`c:\windows\system32\wininit.exe`,
	`c:\windows\system32\lsm.exe`,
	`c:\windows\system32\services.exe`,
	`c:\windows\system32\lsass.exe`,
	`c:\windows\system32\wbem\wmiprvse.exe`,
	`c:\program files\microsoft monitoring agent\agent\healthservice.exe`,
	`c:\programdata\microsoft\windows defender\platform\`,
	`c:\program files\windows defender\`,
}

// LSASSAccess raises an alert when a process opens lsass.exe with rights to read or write its
// memory: Sysmon 10 (GrantedAccess) or Security 4656/4663 on the lsass.exe process object
// (AccessMask), or starts a thread in it (Sysmon 8, CreateRemoteThread). It is the step mimikatz, comsvcs.dll MiniDump, Dumpert and lsassy all take to
// steal credentials. (A 4656 refused by a protected LSASS reads the same: the event's audit
// outcome does not reach the detectors.) One alert per host and source process, shared
// through Episodes with the command line and dump file of the same process.
type LSASSAccess struct {
	// Readers are the images whose memory access is expected: lower-case full paths, or
	// folders ending in `\`. Default: lsassReaders.
	Readers []string
	// Episodes (may be nil) groups this alert with the other traces of the same dumper.
	Episodes *CredEpisodes

	procs *Processes
}

// NewLSASSAccess returns the detector; procs (may be nil) names the user of the source process.
func NewLSASSAccess(procs *Processes) *LSASSAccess {
	return &LSASSAccess{Readers: lsassReaders, procs: procs}
}

// Name implements detection.Detector.
func (d *LSASSAccess) Name() string { return "lsass-access" }

// lsassOpen is one opening of lsass.exe, from Sysmon or Security.
type lsassOpen struct {
	kind, image, pid, guid, access, user string
	fields                               map[string]string
}

// Detect implements detection.Detector.
func (d *LSASSAccess) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	var o lsassOpen
	f := ev.GetFields()
	switch id := ev.GetEventId(); {
	case id == 10 && detection.IsSysmon(ev):
		if detection.BaseName(f["TargetImage"]) != "lsass.exe" {
			return nil
		}
		o = lsassOpen{kind: "sysmon", image: f["SourceImage"], pid: f["SourceProcessId"], guid: f["SourceProcessGUID"],
			access: f["GrantedAccess"], user: f["SourceUser"],
			fields: detection.Pick(f, "SourceImage", "SourceProcessGUID", "SourceProcessId", "TargetImage", "GrantedAccess", "CallTrace", "SourceUser")}
		if o.user == "" {
			o.user = d.procs.User(ev.GetHost(), o.guid)
		}
	case (id == 4656 || id == 4663) && detection.IsSecurity(ev):
		if detection.BaseName(f["ObjectName"]) != "lsass.exe" || !strings.EqualFold(f["ObjectType"], "Process") {
			return nil
		}
		o = lsassOpen{kind: "windows-event", image: f["ProcessName"], pid: f["ProcessId"], access: f["AccessMask"],
			fields: detection.Pick(f, "ProcessName", "ProcessId", "ObjectName", "ObjectType", "AccessMask", "HandleId",
				"SubjectUserName", "SubjectDomainName", "SubjectLogonId")}
		if name := f["SubjectUserName"]; name != "" && name != "-" && !entity.IsMachineAccount(name) && !credProcSystemSession(f["SubjectLogonId"]) {
			o.user = f["SubjectDomainName"] + `\` + name
		}
	case id == 8 && detection.IsSysmon(ev):
		// A thread created in lsass.exe runs code there: it reads whatever it likes.
		if detection.BaseName(f["TargetImage"]) != "lsass.exe" {
			return nil
		}
		o = lsassOpen{kind: "sysmon", image: f["SourceImage"], pid: f["SourceProcessId"], guid: f["SourceProcessGuid"],
			access: "CreateRemoteThread", user: f["SourceUser"],
			fields: detection.Pick(f, "SourceImage", "SourceProcessGuid", "SourceProcessId", "TargetImage", "StartAddress", "StartModule", "StartFunction", "SourceUser")}
		if o.user == "" {
			o.user = d.procs.User(ev.GetHost(), o.guid)
		}
		if d.expected(o.image) {
			return nil
		}
		return []*adjoinv1.Alert{d.alert(ev, o)}
	default:
		return nil
	}
	access, err := winevent.ParseHex(o.access)
	if err != nil || access&memoryAccess == 0 || d.expected(o.image) {
		return nil
	}
	return []*adjoinv1.Alert{d.alert(ev, o)}
}

func (d *LSASSAccess) alert(ev *adjoinv1.Event, o lsassOpen) *adjoinv1.Alert {
	own := credProcessKey(ev.GetHost(), o.pid)
	key := own
	if key == "" {
		key = "guid:" + entity.Fold(o.guid)
	}
	// The image key lets a script block of the same PowerShell (credential-dump-script),
	// which names no process, find this episode.
	id := d.Episodes.Claim(credKeys(own), credKeys(own, credImageKey(ev.GetHost(), o.image)), detection.TraceOf(ev),
		entity.HashID(d.Name(), entity.Fold(ev.GetHost()), key))
	a := credAlert(ev, d.Name(), nil, adjoinv1.Severity_SEVERITY_HIGH, adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, []string{"T1003.001"},
		"Credential dumping: process read LSASS memory", fmt.Sprintf("%s opened lsass.exe on %s with access %s.", o.image, ev.GetHost(), o.access))
	a.Id = id
	credAddEntity(a, detection.UserRef(o.user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	a.Evidence = []*adjoinv1.Evidence{credEvidence(ev, o.kind, fmt.Sprintf("%d %s -> lsass.exe %s", ev.GetEventId(), detection.BaseName(o.image), o.access), o.fields)}
	return a
}

// expected reports whether image is one of the Readers.
func (d *LSASSAccess) expected(image string) bool {
	image = strings.ToLower(image)
	for _, r := range d.Readers {
		if image == r || (strings.HasSuffix(r, `\`) && strings.HasPrefix(image, r)) {
			return true
		}
	}
	return false
}
