package detect

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Process access rights that let a process read or change another's memory: what a credential
// dumper needs from lsass.exe (PROCESS_VM_OPERATION, PROCESS_VM_READ, PROCESS_VM_WRITE).
const memoryAccess = 0x0008 | 0x0010 | 0x0020

// Images that open lsass.exe with memory rights as part of Windows or its protection; their
// access is expected. Compared on the lower-case base name and the system directory.
var lsassReaders = map[string]bool{
	`c:\windows\system32\csrss.exe`:         true,
	`c:\windows\system32\wininit.exe`:       true,
	`c:\windows\system32\lsm.exe`:           true,
	`c:\windows\system32\services.exe`:      true,
	`c:\windows\system32\lsass.exe`:         true,
	`c:\windows\system32\wbem\wmiprvse.exe`: true,
}

// LSASSAccess raises an alert when a process opens lsass.exe with rights to read or write its
// memory (Sysmon 10): the step mimikatz, comsvcs.dll MiniDump, Dumpert and lsassy all take to
// steal credentials. Repeated accesses by one process on one host are one alert.
type LSASSAccess struct {
	procs *Processes
}

// NewLSASSAccess returns the detector; procs (may be nil) names the user of the source process.
func NewLSASSAccess(procs *Processes) *LSASSAccess { return &LSASSAccess{procs: procs} }

// Name implements detection.Detector.
func (d *LSASSAccess) Name() string { return "lsass-access" }

// Detect implements detection.Detector.
func (d *LSASSAccess) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 10 || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	if detection.BaseName(f["TargetImage"]) != "lsass.exe" {
		return nil
	}
	access, err := winevent.ParseHex(f["GrantedAccess"])
	if err != nil || access&memoryAccess == 0 {
		return nil
	}
	src := f["SourceImage"]
	if lsassReaders[strings.ToLower(src)] {
		return nil
	}
	guid := entity.Fold(f["SourceProcessGUID"])
	if guid == "" {
		guid = "pid:" + f["SourceProcessId"]
	}
	t := ev.GetTime()
	a := &adjoinv1.Alert{
		Id:              entity.HashID("lsass-access", entity.Fold(ev.GetHost()), guid),
		Side:            adjoinv1.Side_SIDE_ENDPOINT,
		Source:          "adjoin-endpointingest",
		Title:           "Credential dumping: process read LSASS memory",
		Description:     fmt.Sprintf("%s opened lsass.exe on %s with access %s.", src, ev.GetHost(), f["GrantedAccess"]),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.001"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Status:          adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity:   t,
		LastActivity:    t,
		UpdatedTime:     t,
		Version:         1,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
		Evidence: []*adjoinv1.Evidence{{
			Kind:     "sysmon",
			Summary:  fmt.Sprintf("10 %s -> lsass.exe %s", detection.BaseName(src), f["GrantedAccess"]),
			Host:     ev.GetHost(),
			Time:     timestamppb.New(t.AsTime()),
			EventId:  "10",
			RecordId: ev.GetRecordId(),
			Fields:   detection.Pick(f, "SourceImage", "SourceProcessGUID", "SourceProcessId", "TargetImage", "GrantedAccess", "CallTrace", "SourceUser"),
		}},
	}
	user := f["SourceUser"]
	if user == "" {
		user = d.procs.User(ev.GetHost(), f["SourceProcessGUID"])
	}
	if ref := detection.UserRef(user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	return []*adjoinv1.Alert{a}
}
