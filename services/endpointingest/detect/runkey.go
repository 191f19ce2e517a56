package detect

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// runKeyAutostarts are the keys under Software\Microsoft\Windows\CurrentVersion whose values
// Windows runs at boot or logon (lower case).
var runKeyAutostarts = []string{"run", "runonce", "runonceex", "runservices", "runservicesonce", `policies\explorer\run`}

// runKeyWinlogonDefaults are the stock Winlogon values; rewriting them to themselves is not
// persistence.
var runKeyWinlogonDefaults = map[string]bool{
	"userinit": true, `c:\windows\system32\userinit.exe`: true, `c:\windows\system32\userinit.exe,`: true, "userinit.exe,": true,
	"explorer.exe": true,
}

// RunKey raises an alert when a program sets an autostart value under a Run key (Run, RunOnce,
// RunServices, Policies\Explorer\Run, machine-wide or per user, native or WOW64) or changes
// Winlogon's Userinit or Shell (Sysmon 13 SetValue), or creates such a key (Sysmon 12
// CreateKey): what implants do to survive a reboot. Other registry writes are ignored. One
// alert per host and value.
type RunKey struct{}

// NewRunKey returns the detector; it has no thresholds.
func NewRunKey() RunKey { return RunKey{} }

// Name implements detection.Detector.
func (RunKey) Name() string { return "run-key-persistence" }

// Detect implements detection.Detector.
func (d RunKey) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	id := ev.GetEventId()
	if (id != 12 && id != 13) || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	op := runKeyOperation(f)
	if (id == 13 && op != "" && op != "setvalue") || (id == 12 && op != "createkey") {
		return nil
	}
	rest, hiveSID, ok := runKeyPath(f["TargetObject"])
	if !ok {
		return nil
	}
	if strings.HasPrefix(rest, `microsoft\windows nt\currentversion\winlogon\`) && runKeyWinlogonDefaults[strings.TrimSpace(entity.Fold(f["Details"]))] {
		return nil
	}
	t := ev.GetTime()
	a := endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), entity.Fold(ev.GetHost()), entity.Fold(f["TargetObject"])),
		Title:           "Autostart registry value set (Run key / Winlogon)",
		Description:     fmt.Sprintf("%s set %s on %s to %q.", f["Image"], f["TargetObject"], ev.GetHost(), f["Details"]),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE,
		MitreTechniques: []string{"T1547.001"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
		Evidence: []*adjoinv1.Evidence{{
			Kind:     "sysmon",
			Summary:  fmt.Sprintf("%d %s %s = %s", id, detection.BaseName(f["Image"]), f["TargetObject"], f["Details"]),
			Host:     ev.GetHost(),
			Time:     timestamppb.New(t.AsTime()),
			EventId:  strconv.Itoa(int(id)),
			RecordId: ev.GetRecordId(),
			Fields:   detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "TargetObject", "Details", "EventType", "EventTypeOrignal", "User"),
		}},
	}, t.AsTime())
	// Sysmon 12/13 name the writer's user only from schema 4.60 (User); older versions do not.
	if ref := detection.UserRef(f["User"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	// A per-user Run key runs as the user whose hive it is: that user is the target.
	if hiveSID != "" {
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Sid: hiveSID})
	}
	return []*adjoinv1.Alert{a}
}

// runKeyOperation is Sysmon's own event type (SetValue, CreateKey...), lower case: NXLog moved
// it to EventTypeOrignal in some recordings and left its own INFO in EventType.
func runKeyOperation(f map[string]string) string {
	for _, k := range []string{"EventType", "EventTypeOrignal"} {
		if v := entity.Fold(f[k]); v != "" && v != "info" {
			return v
		}
	}
	return ""
}

// runKeyPath reports whether a Sysmon registry path (HKLM\..., HKU\<sid>\..., HKCU\...) is an
// autostart location, returning its part below Software (lower case) and the SID of the user
// hive, if it is a domain or local user's.
func runKeyPath(target string) (rest, hiveSID string, ok bool) {
	p := entity.Fold(target)
	i := strings.Index(p, `\software\`)
	if i < 0 {
		return "", "", false
	}
	hive := p[:i]
	switch {
	case hive == "hklm", hive == "hkcu", hive == `hkey_local_machine`:
	case strings.HasPrefix(hive, `hku\`):
		sid := strings.ToUpper(strings.TrimPrefix(hive, `hku\`))
		if strings.Contains(sid, `\`) || strings.HasSuffix(sid, "_CLASSES") {
			return "", "", false
		}
		if strings.HasPrefix(sid, "S-1-5-21-") {
			hiveSID = sid
		}
	default:
		return "", "", false
	}
	rest = strings.TrimPrefix(p[i+len(`\software\`):], `wow6432node\`)
	if after, found := strings.CutPrefix(rest, `microsoft\windows\currentversion\`); found {
		for _, k := range runKeyAutostarts {
			if after == k || strings.HasPrefix(after, k+`\`) {
				return rest, hiveSID, true
			}
		}
		return "", "", false
	}
	switch rest {
	case `microsoft\windows nt\currentversion\winlogon\userinit`, `microsoft\windows nt\currentversion\winlogon\shell`:
		return rest, hiveSID, true
	}
	return "", "", false
}
