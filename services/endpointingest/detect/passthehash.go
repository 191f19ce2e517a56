package detect

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// PassTheHashLogon raises an alert on the endpoint side of pass-the-hash: a 4624 with LogonType 9
// (NewCredentials), LogonProcessName seclogo and package Negotiate — what mimikatz
// sekurlsa::pth (and runas /netonly) produce, since the new session keeps the local identity and
// swaps only the credentials used on the network — together with the processes that run in that
// session (Sysmon 1 LogonId, 4688 session). The actor is the logged-on user; the identity whose
// hash is used (TargetOutboundUserName, 4624 version 2 only) is the target. One alert per host
// and logon session.
//
// runas /netonly, UAC helpers and token tricks make the same logon with credentials that are
// never injected nor used, so the alert is medium until the session shows what pass-the-hash
// does: LSASS opened with write access on the host within Window (sekurlsa::pth writes the hash
// into the session's credentials: Sysmon 10 or 4656 with PROCESS_VM_WRITE), or a process of
// the session connecting to another host (Sysmon 3). Then it is high.
type PassTheHashLogon struct {
	// Window is how far apart a process and its session's 4624 may be and still be joined, for
	// processes logged before the 4624 (Sysmon and Security are separate logs, and exports may
	// list newest first).
	Window time.Duration
	// MaxSessions bounds the sessions remembered (pass-the-hash sessions and sessions with
	// processes waiting for their 4624); the oldest are dropped first.
	MaxSessions int
	// MaxPending bounds the processes kept per session while its 4624 is not yet seen.
	MaxPending int

	mu       sync.Mutex
	sessions bounded.Map[string, *pthSession]
	use      pthUse
}

type pthSession struct {
	pth      bool
	at       time.Time             // of the 4624
	used     *adjoinv1.Evidence    // of the injection or network use, once seen
	entities []*adjoinv1.EntityRef // of the 4624, once seen
	pending  []*adjoinv1.Evidence  // processes seen before the 4624
}

// NewPassTheHashLogon returns the detector with a 2 minute join window, 10000 sessions and 20
// waiting processes per session.
func NewPassTheHashLogon() *PassTheHashLogon {
	return &PassTheHashLogon{Window: 2 * time.Minute, MaxSessions: 10000, MaxPending: 20}
}

// Name implements detection.Detector.
func (d *PassTheHashLogon) Name() string { return "pass-the-hash-logon" }

// Detect implements detection.Detector.
func (d *PassTheHashLogon) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	switch {
	case ev.GetEventId() == 4624 && detection.IsSecurity(ev):
		if f["LogonType"] != "9" || !strings.HasPrefix(entity.Fold(f["LogonProcessName"]), "seclogo") ||
			!strings.EqualFold(f["AuthenticationPackageName"], "Negotiate") {
			return nil
		}
		session, ok := pthLogonID(f["TargetLogonId"])
		if !ok {
			return nil
		}
		return d.logon(ev, session)
	case ev.GetEventId() == 1 && detection.IsSysmon(ev), ev.GetEventId() == 4688 && detection.IsSecurity(ev):
		session, ok := pthProcessSession(ev)
		if !ok {
			return nil
		}
		return d.process(ev, session)
	case ev.GetEventId() == 10 && detection.IsSysmon(ev), ev.GetEventId() == 4656 && detection.IsSecurity(ev):
		return d.injection(ev)
	case ev.GetEventId() == 3 && detection.IsSysmon(ev):
		return d.network(ev)
	}
	return nil
}

func (d *PassTheHashLogon) logon(ev *adjoinv1.Event, session uint64) []*adjoinv1.Alert {
	f := ev.GetFields()
	entities := []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	if ref := pthUserRef(f["TargetDomainName"], f["TargetUserName"], f["TargetUserSid"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		entities = append(entities, ref)
	}
	if ref := pthUserRef(f["TargetOutboundDomainName"], f["TargetOutboundUserName"], "", adjoinv1.EntityRole_ENTITY_ROLE_TARGET); ref != nil {
		entities = append(entities, ref)
	}
	outbound := f["TargetOutboundDomainName"] + `\` + f["TargetOutboundUserName"]
	if f["TargetOutboundUserName"] == "" || f["TargetOutboundUserName"] == "-" {
		outbound = "other credentials (this 4624 version does not name them)"
	}
	evidence := []*adjoinv1.Evidence{{
		Kind:     "windows-event",
		Summary:  fmt.Sprintf("4624 type 9 %s %s logon %s as %s", f["LogonProcessName"], f["TargetUserName"], f["TargetLogonId"], outbound),
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  "4624",
		RecordId: ev.GetRecordId(),
		Fields: detection.Pick(f, "LogonType", "LogonProcessName", "AuthenticationPackageName", "TargetUserName", "TargetDomainName",
			"TargetUserSid", "TargetLogonId", "TargetOutboundUserName", "TargetOutboundDomainName", "SubjectUserName", "SubjectLogonId", "ProcessName", "IpAddress"),
	}}
	key := pthKey(ev.GetHost(), session)
	d.mu.Lock()
	s := d.session(key)
	s.pth, s.entities, s.at = true, entities, ev.GetTime().AsTime()
	for _, p := range s.pending {
		if pthAbs(p.GetTime().AsTime().Sub(ev.GetTime().AsTime())) <= d.Window {
			evidence = append(evidence, p)
		}
	}
	s.pending = nil
	if s.used == nil {
		s.used = d.use.injectedNear(ev.GetHost(), s.at, d.Window)
	}
	d.use.logon(ev.GetHost(), key, s.at, d.MaxSessions)
	used := s.used
	d.mu.Unlock()
	desc := fmt.Sprintf("%s\\%s opened a NewCredentials (LogonType 9, seclogo) session %s on %s using %s: pass-the-hash.",
		f["TargetDomainName"], f["TargetUserName"], f["TargetLogonId"], ev.GetHost(), outbound)
	return []*adjoinv1.Alert{d.alert(ev, key, desc, entities, evidence, used)}
}

func (d *PassTheHashLogon) process(ev *adjoinv1.Event, session uint64) []*adjoinv1.Alert {
	evidence := pthProcessEvidence(ev)
	key := pthKey(ev.GetHost(), session)
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions.Get(key)
	if ev.GetEventId() == 1 {
		d.use.process(ev.GetHost(), ev.GetFields()["ProcessGuid"], key, d.MaxSessions)
	}
	if !ok || !s.pth {
		if session <= 0x3e7 { // SYSTEM, LOCAL/NETWORK SERVICE and no session: never pass-the-hash
			return nil
		}
		s = d.session(key)
		if len(s.pending) < d.MaxPending {
			s.pending = append(s.pending, evidence)
		}
		return nil
	}
	image := ev.GetFields()["Image"]
	if ev.GetEventId() == 4688 {
		image = ev.GetFields()["NewProcessName"]
	}
	desc := fmt.Sprintf("Process %s started in pass-the-hash session %s on %s.", image, pthHex(session), ev.GetHost())
	return []*adjoinv1.Alert{d.alert(ev, key, desc, s.entities, []*adjoinv1.Evidence{evidence}, s.used)}
}

// session returns the state of key, creating it (and dropping the oldest) if needed; mu held.
func (d *PassTheHashLogon) session(key string) *pthSession {
	return detection.Entry(&d.sessions, d.MaxSessions, key)
}

// alert builds the session's alert: high once used (the injection or network use that
// shows it, added to the evidence), medium before.
func (d *PassTheHashLogon) alert(ev *adjoinv1.Event, key, desc string, entities []*adjoinv1.EntityRef, evidence []*adjoinv1.Evidence, used *adjoinv1.Evidence) *adjoinv1.Alert {
	t := ev.GetTime()
	severity := adjoinv1.Severity_SEVERITY_MEDIUM
	if used != nil {
		severity = adjoinv1.Severity_SEVERITY_HIGH
		evidence = append(evidence, used)
	} else {
		desc += " No injection into LSASS nor network use from the session seen yet (runas /netonly and token tricks look the same)."
	}
	return endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), key),
		Title:           "Pass-the-hash: NewCredentials logon with processes in its session",
		Description:     desc,
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1550.002"},
		Severity:        severity,
		Entities:        append([]*adjoinv1.EntityRef(nil), entities...),
		Evidence:        evidence,
	}, t.AsTime())
}

// pthProcessSession is the logon session a new process runs in: Sysmon 1 LogonId; for 4688 the
// TargetLogonId when set (a process started for another session, as seclogon and WinRM do) and
// otherwise the creator's SubjectLogonId.
func pthProcessSession(ev *adjoinv1.Event) (uint64, bool) {
	f := ev.GetFields()
	if ev.GetEventId() == 1 {
		return pthLogonID(f["LogonId"])
	}
	if id, ok := pthLogonID(f["TargetLogonId"]); ok {
		return id, true
	}
	return pthLogonID(f["SubjectLogonId"])
}

// pthProcessEvidence describes a Sysmon 1 or 4688 process start.
func pthProcessEvidence(ev *adjoinv1.Event) *adjoinv1.Evidence {
	f := ev.GetFields()
	e := &adjoinv1.Evidence{Host: ev.GetHost(), Time: timestamppb.New(ev.GetTime().AsTime()), RecordId: ev.GetRecordId(),
		EventId: strconv.Itoa(int(ev.GetEventId()))}
	if ev.GetEventId() == 1 {
		e.Kind = "sysmon"
		e.Summary = fmt.Sprintf("1 %s -> %s (%s, logon %s)", detection.BaseName(f["ParentImage"]), detection.BaseName(f["Image"]), f["User"], f["LogonId"])
		e.Fields = detection.Pick(f, "Image", "CommandLine", "ParentImage", "ProcessGuid", "ParentProcessGuid", "User", "LogonId", "IntegrityLevel")
		return e
	}
	e.Kind = "windows-event"
	parent := "?"
	if f["ParentProcessName"] != "" {
		parent = detection.BaseName(f["ParentProcessName"])
	}
	e.Summary = fmt.Sprintf("4688 %s -> %s (%s, logon %s/%s)", parent, detection.BaseName(f["NewProcessName"]),
		f["SubjectUserName"], f["SubjectLogonId"], f["TargetLogonId"])
	e.Fields = detection.Pick(f, "NewProcessName", "CommandLine", "ParentProcessName", "NewProcessId", "SubjectUserName", "SubjectDomainName",
		"SubjectLogonId", "TargetUserName", "TargetDomainName", "TargetLogonId")
	return e
}

// pthLogonID parses a logon id ("0x420de2f", "0x000000000266e045"); zero means none.
func pthLogonID(s string) (uint64, bool) {
	id, err := winevent.ParseHex(s)
	return id, err == nil && id != 0
}

func pthHex(id uint64) string { return "0x" + strconv.FormatUint(id, 16) }

func pthKey(host string, session uint64) string {
	nb, _ := entity.HostNames(host)
	return nb + "|" + pthHex(session)
}

// pthUserRef references a user named by separate domain, name and SID fields, skipping empty,
// "-", machine and local system identities.
func pthUserRef(domain, name, sid string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	name, domain = entity.Fold(name), entity.Fold(domain)
	if d, sam := entity.SplitAccount(name); d != "" {
		domain, name = d, sam
	}
	if domain == "-" {
		domain = ""
	}
	switch {
	case name == "", name == "-", entity.IsMachineAccount(name), domain == "nt authority":
		return nil
	}
	ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, SamAccountName: name, Domain: domain}
	if entity.IsSID(sid) && strings.HasPrefix(strings.ToUpper(sid), "S-1-5-21-") {
		ref.Sid = sid
	}
	return ref
}

func pthAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
