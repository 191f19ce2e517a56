package detect

import (
	"fmt"
	"net/netip"
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

// winrmShellHosts are the processes WinRM runs remote commands in: the PowerShell remoting
// plug-in host and winrs's shell host.
var winrmShellHosts = map[string]bool{"wsmprovhost.exe": true, "winrshost.exe": true}

// WinRMShellEndpoint raises an alert when a WinRM / PowerShell remoting session runs on a host:
// wsmprovhost.exe or winrshost.exe starting (Sysmon 1, 4688) and the processes it runs in its logon session,
// joined with the network logon (4624 type 3, TargetLogonId = wsmprovhost's LogonId) that names
// the remote user and, when logged, the address it came from. One alert per host and session.
type WinRMShellEndpoint struct {
	// Window is how far apart a 4624 and the wsmprovhost.exe of its session may be logged and
	// still be joined (the logon comes first; nxlog @timestamp may lag by seconds).
	Window time.Duration
	// MaxSessions bounds the logon sessions remembered (WinRM sessions and recent type 3
	// logons); the oldest are dropped first.
	MaxSessions int

	mu       sync.Mutex
	sessions bounded.Map[string, *winrmSession]
}

type winrmSession struct {
	shell    bool
	logon    *adjoinv1.Evidence // the session's 4624, once seen
	entities []*adjoinv1.EntityRef
}

// NewWinRMShellEndpoint returns the detector with a 2 minute join window and 10000 sessions.
func NewWinRMShellEndpoint() *WinRMShellEndpoint {
	return &WinRMShellEndpoint{Window: 2 * time.Minute, MaxSessions: 10000}
}

// Name implements detection.Detector.
func (d *WinRMShellEndpoint) Name() string { return "winrm-shell-endpoint" }

// Detect implements detection.Detector.
func (d *WinRMShellEndpoint) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	switch {
	case ev.GetEventId() == 4624 && detection.IsSecurity(ev):
		if f["LogonType"] != "3" {
			return nil
		}
		session, ok := pthLogonID(f["TargetLogonId"])
		if !ok {
			return nil
		}
		return d.logon(ev, session)
	case ev.GetEventId() == 1 && detection.IsSysmon(ev):
		return d.process(ev, f["Image"], f["ParentImage"])
	case ev.GetEventId() == 4688 && detection.IsSecurity(ev):
		return d.process(ev, f["NewProcessName"], f["ParentProcessName"])
	}
	return nil
}

func (d *WinRMShellEndpoint) logon(ev *adjoinv1.Event, session uint64) []*adjoinv1.Alert {
	f := ev.GetFields()
	var entities []*adjoinv1.EntityRef
	if ref := pthUserRef(f["TargetDomainName"], f["TargetUserName"], f["TargetUserSid"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		entities = append(entities, ref)
	}
	if ip := winevent.StripMappedIPv4(f["IpAddress"]); ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
			entities = append(entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
		}
	}
	if ws := strings.TrimSpace(f["WorkstationName"]); ws != "" && ws != "-" {
		entities = append(entities, detection.HostRef(ws, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST))
	}
	evidence := &adjoinv1.Evidence{
		Kind:     "windows-event",
		Summary:  fmt.Sprintf("4624 type 3 %s %s\\%s from %s, logon %s", f["AuthenticationPackageName"], f["TargetDomainName"], f["TargetUserName"], f["IpAddress"], f["TargetLogonId"]),
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  "4624",
		RecordId: ev.GetRecordId(),
		Fields: detection.Pick(f, "LogonType", "TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "IpAddress", "IpPort",
			"WorkstationName", "AuthenticationPackageName", "LogonProcessName"),
	}
	key := pthKey(ev.GetHost(), session)
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.session(key)
	s.logon, s.entities = evidence, entities
	if !s.shell {
		return nil
	}
	desc := fmt.Sprintf("WinRM session %s on %s belongs to %s\\%s (network logon from %s).", pthHex(session), ev.GetHost(), f["TargetDomainName"], f["TargetUserName"], f["IpAddress"])
	return []*adjoinv1.Alert{d.alert(ev, key, desc, entities, []*adjoinv1.Evidence{evidence})}
}

func (d *WinRMShellEndpoint) process(ev *adjoinv1.Event, image, parent string) []*adjoinv1.Alert {
	host := winrmShellHosts[detection.BaseName(image)]
	child := winrmShellHosts[detection.BaseName(parent)]
	session, ok := pthProcessSession(ev)
	if !ok || session <= 0x3e7 { // WinRM runs as the remote user, never as SYSTEM or a service account
		return nil
	}
	key := pthKey(ev.GetHost(), session)
	d.mu.Lock()
	defer d.mu.Unlock()
	s, known := d.sessions.Get(key)
	if !host && !child && (!known || !s.shell) {
		return nil
	}
	s = d.session(key)
	s.shell = true
	evidence := []*adjoinv1.Evidence{pthProcessEvidence(ev)}
	entities := []*adjoinv1.EntityRef{}
	if s.logon != nil && pthAbs(s.logon.GetTime().AsTime().Sub(ev.GetTime().AsTime())) <= d.Window {
		evidence = append(evidence, s.logon)
		entities = append(entities, s.entities...)
	}
	f := ev.GetFields()
	var user string
	if ev.GetEventId() == 1 {
		user = f["User"]
	} else if !host {
		user = f["SubjectDomainName"] + `\` + f["SubjectUserName"]
	} else {
		user = f["TargetDomainName"] + `\` + f["TargetUserName"]
	}
	if ref := detection.UserRef(user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil && !strings.HasSuffix(ref.GetSamAccountName(), "$") {
		entities = append(entities, ref)
	}
	what := "started"
	if !host {
		what = "ran " + image
	}
	shellHost := "wsmprovhost.exe / winrshost.exe" // a grandchild: the shell host is further up
	switch {
	case host:
		shellHost = detection.BaseName(image)
	case child:
		shellHost = detection.BaseName(parent)
	}
	desc := fmt.Sprintf("WinRM shell host (%s) %s on %s for %s in logon session %s.", shellHost, what, ev.GetHost(), user, pthHex(session))
	return []*adjoinv1.Alert{d.alert(ev, key, desc, entities, evidence)}
}

// session returns the state of key, creating it (and dropping the oldest) if needed; mu held.
func (d *WinRMShellEndpoint) session(key string) *winrmSession {
	return detection.Entry(&d.sessions, d.MaxSessions, key)
}

func (d *WinRMShellEndpoint) alert(ev *adjoinv1.Event, key, desc string, entities []*adjoinv1.EntityRef, evidence []*adjoinv1.Evidence) *adjoinv1.Alert {
	t := ev.GetTime()
	return endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), key),
		Title:           "WinRM remote shell on host",
		Description:     desc,
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1021.006"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        append([]*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}, entities...),
		Evidence:        evidence,
	}, t.AsTime())
}
