package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// remoteSpawnSuspicious are children that run commands: shells, script hosts and the binaries
// attackers launch code through. A COM or WMI server starting one of them is remote execution
// even in a service's session.
var remoteSpawnSuspicious = map[string]bool{
	"cmd.exe": true, "powershell.exe": true, "pwsh.exe": true, "wscript.exe": true, "cscript.exe": true, "mshta.exe": true,
	"rundll32.exe": true, "regsvr32.exe": true, "msbuild.exe": true, "bitsadmin.exe": true, "certutil.exe": true,
	"whoami.exe": true, "net.exe": true, "net1.exe": true, "reg.exe": true, "sc.exe": true, "schtasks.exe": true,
}

// RemoteSpawn raises an alert when a process is started by a server that runs code for remote
// callers: WmiPrvSE.exe (Win32_Process.Create over DCOM/WMI, wmic /node, SharpWMI, Impacket
// wmiexec, WSMan.Automation) or a DCOM-activated program (mmc.exe -Embedding for MMC20.Application,
// Office started with -Embedding or /automation). The child must run in a user's logon session
// (remote WMI runs the command as the caller) or be a shell, script host or launcher. The
// network logon of that session (4624 type 3, TargetLogonId = the child's LogonId) names the
// caller and its address. One alert per host and logon session, per episode of activity no
// more than Window apart.
type RemoteSpawn struct {
	name, title, technique string
	parent                 func(base, parentCommandLine string) bool
	// activated reports a process that is itself the remotely activated payload (mshta.exe
	// -Embedding, the htafile DCOM object); nil for none.
	activated func(base, commandLine string) bool
	// Benign are lower-case base names the server starts on its own (WMI's own helpers,
	// error reporting); they never raise.
	Benign map[string]bool
	// Window is the longest gap within one episode, and how far apart a logon and the
	// processes of its session may be joined.
	Window time.Duration
	// MaxSessions bounds the logons, episodes and inbound connections remembered (each;
	// oldest first).
	MaxSessions int
	// InboundServers are the server processes (lower-case base names) whose inbound network
	// connections (Sysmon 3) are remembered; a shell or launcher they start within
	// InboundWindow after one is remote execution even without parent -Embedding or a network
	// session (remote_spawn_inbound.go).
	InboundServers map[string]bool
	InboundWindow  time.Duration
	// NetworkParents are servers (lower-case base names) whose child running in a network
	// logon session (4624 type 3 seen) counts even without the parent's command line.
	NetworkParents map[string]bool

	logons   *bounded.Map[string, *remoteSpawnLogon]
	episodes *bounded.Map[string, *remoteSpawnEpisode]
	conns    *bounded.Map[string, remoteSpawnInbound]
}

type remoteSpawnLogon struct {
	at       time.Time
	evidence *adjoinv1.Evidence
	entities []*adjoinv1.EntityRef
}

type remoteSpawnEpisode struct {
	start, last time.Time
	alert       *adjoinv1.Alert // the last emission, reused for a later logon
}

// NewWMIRemoteExecution returns the WmiPrvSE.exe detector (wmi-remote-execution, T1047) with a
// 10 minute window and 10000 sessions.
func NewWMIRemoteExecution() *RemoteSpawn {
	return &RemoteSpawn{name: "wmi-remote-execution", title: "Process started through WMI (WmiPrvSE.exe)", technique: "T1047",
		// scrcons.exe hosts WMI ActiveScriptEventConsumers, a remote event subscription's code.
		parent: func(base, _ string) bool { return base == "wmiprvse.exe" || base == "scrcons.exe" },
		Benign: map[string]bool{"wmiprvse.exe": true, "werfault.exe": true, "wmiapsrv.exe": true, "wmiadap.exe": true, "mofcomp.exe": true},
		Window: 10 * time.Minute, MaxSessions: 10000}
}

// NewDCOMRemoteExecution returns the DCOM detector (dcom-remote-execution, T1021.003): children
// of mmc.exe and Office programs started with -Embedding or /automation, mshta.exe -Embedding
// (the htafile object), and shells started by
// explorer.exe, mmc.exe or Office within a minute of it accepting a connection from another
// host (ShellWindows, ShellBrowserWindow); a 10 minute window and 10000 sessions.
func NewDCOMRemoteExecution() *RemoteSpawn {
	office := map[string]bool{"excel.exe": true, "winword.exe": true, "powerpnt.exe": true, "outlook.exe": true, "visio.exe": true}
	return &RemoteSpawn{name: "dcom-remote-execution", title: "Process started through DCOM (MMC20 / Office automation)", technique: "T1021.003",
		parent: func(base, cmd string) bool {
			if base != "mmc.exe" && !office[base] {
				return false
			}
			cmd = strings.ToLower(cmd)
			return strings.Contains(cmd, "-embedding") || strings.Contains(cmd, "/automation")
		},
		activated: func(base, cmd string) bool {
			return base == "mshta.exe" && strings.Contains(strings.ToLower(cmd), "-embedding")
		},
		Benign:         map[string]bool{"werfault.exe": true, "splwow64.exe": true, "conhost.exe": true},
		InboundServers: map[string]bool{"explorer.exe": true, "mmc.exe": true, "excel.exe": true, "winword.exe": true, "outlook.exe": true},
		NetworkParents: map[string]bool{"mmc.exe": true, "excel.exe": true, "winword.exe": true, "powerpnt.exe": true, "outlook.exe": true},
		InboundWindow:  time.Minute,
		Window:         10 * time.Minute, MaxSessions: 10000}
}

// Name implements detection.Detector.
func (d *RemoteSpawn) Name() string { return d.name }

// Detect implements detection.Detector.
func (d *RemoteSpawn) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	switch {
	case ev.GetEventId() == 4624 && detection.IsSecurity(ev):
		if strings.TrimSpace(f["LogonType"]) == "3" {
			return d.logon(ev)
		}
	case ev.GetEventId() == 3 && detection.IsSysmon(ev):
		if len(d.InboundServers) > 0 {
			d.inbound(ev)
		}
	case ev.GetEventId() == 1 && detection.IsSysmon(ev):
		return d.process(ev, f["Image"], f["CommandLine"], f["ParentImage"], f["ParentCommandLine"], f["LogonId"])
	case ev.GetEventId() == 4688 && detection.IsSecurity(ev):
		session := f["TargetLogonId"]
		if id, ok := pthLogonID(session); !ok || id == 0 {
			session = f["SubjectLogonId"]
		}
		return d.process(ev, f["NewProcessName"], f["CommandLine"], f["ParentProcessName"], "", session)
	}
	return nil
}

func (d *RemoteSpawn) init() {
	if d.logons == nil {
		d.logons = bounded.NewMap[string, *remoteSpawnLogon](d.MaxSessions)
		d.episodes = bounded.NewMap[string, *remoteSpawnEpisode](d.MaxSessions)
	}
}

// logon remembers a network logon; if processes of its session already raised an alert, the
// alert is emitted again with the caller and its address.
func (d *RemoteSpawn) logon(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	session, ok := pthLogonID(f["TargetLogonId"])
	if !ok || session <= 0x3e7 {
		return nil
	}
	d.init()
	l := &remoteSpawnLogon{at: ev.GetTime().AsTime()}
	if ref := pthUserRef(f["TargetDomainName"], f["TargetUserName"], f["TargetUserSid"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		l.entities = append(l.entities, ref)
	}
	ip := winevent.StripMappedIPv4(f["IpAddress"])
	if a, err := netip.ParseAddr(ip); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
		l.entities = append(l.entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	if ws := strings.TrimSpace(f["WorkstationName"]); ws != "" && ws != "-" {
		l.entities = append(l.entities, detection.HostRef(ws, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST))
	}
	l.evidence = &adjoinv1.Evidence{
		Kind: "windows-event", Host: ev.GetHost(), Time: timestamppb.New(l.at), EventId: "4624", RecordId: ev.GetRecordId(),
		Summary: fmt.Sprintf("4624 type 3 %s\\%s from %s, logon %s", f["TargetDomainName"], f["TargetUserName"], f["IpAddress"], f["TargetLogonId"]),
		Fields: detection.Pick(f, "LogonType", "TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "IpAddress", "IpPort",
			"WorkstationName", "AuthenticationPackageName", "LogonProcessName"),
	}
	key := pthKey(ev.GetHost(), session)
	d.logons.Put(key, l)
	e, ok := d.episodes.Get(key)
	if !ok || pthAbs(l.at.Sub(e.last)) > d.Window || pthAbs(l.at.Sub(e.start)) > d.Window {
		return nil
	}
	a := remoteSpawnAgain(e.alert, l.at)
	a.Evidence = []*adjoinv1.Evidence{l.evidence}
	a.Entities = append(a.Entities, l.entities...)
	a.Severity = adjoinv1.Severity_SEVERITY_HIGH
	return []*adjoinv1.Alert{a}
}

func (d *RemoteSpawn) process(ev *adjoinv1.Event, image, cmd, parent, parentCmd, logonID string) []*adjoinv1.Alert {
	pbase, base := detection.BaseName(parent), detection.BaseName(image)
	if d.Benign[base] {
		return nil
	}
	conn, called := d.inboundFor(ev.GetHost(), pbase, ev.GetTime().AsTime())
	called = called && remoteSpawnSuspicious[base]
	session, ok := pthLogonID(logonID)
	spawned := d.parent(pbase, parentCmd) || (d.activated != nil && d.activated(base, cmd))
	if !spawned && ok && d.NetworkParents[pbase] {
		// 4688 has no parent command line: a DCOM server is known by the network logon its
		// child runs in (an MMC opened at the console runs in the console's session).
		d.init()
		l, known := d.logons.Get(pthKey(ev.GetHost(), session))
		spawned = known && pthAbs(l.at.Sub(ev.GetTime().AsTime())) <= d.Window
	}
	if (!called && !spawned) || !ok {
		return nil
	}
	user := session > 0x3e7 && session != 0x3e4 && session != 0x3e5
	if !user && !called && !remoteSpawnSuspicious[base] && !inUserFolder(image) {
		return nil
	}
	d.init()
	t := ev.GetTime().AsTime()
	key := pthKey(ev.GetHost(), session)
	e, ok := d.episodes.Get(key)
	if !ok || t.Sub(e.last) > d.Window || e.start.Sub(t) > d.Window {
		e = &remoteSpawnEpisode{start: t, last: t}
	}
	if t.After(e.last) {
		e.last = t
	}
	f := ev.GetFields()
	who := f["User"]
	if ev.GetEventId() == 4688 {
		who = f["TargetDomainName"] + `\` + f["TargetUserName"]
	}
	entities := []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	// A child of an object living in the desktop user's explorer.exe runs as that user, not as
	// the caller: it names no actor.
	if ref := detection.UserRef(who, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil && user && spawned && !entity.IsMachineAccount(ref.GetSamAccountName()) {
		entities = append(entities, ref)
	}
	evidence := []*adjoinv1.Evidence{pthProcessEvidence(ev)}
	severity := adjoinv1.Severity_SEVERITY_MEDIUM
	from := ""
	if l, ok := d.logons.Get(key); ok && pthAbs(l.at.Sub(t)) <= d.Window {
		evidence = append(evidence, l.evidence)
		entities = append(entities, l.entities...)
		severity = adjoinv1.Severity_SEVERITY_HIGH
		from = " over a network logon (" + l.evidence.GetSummary() + ")"
	}
	if called {
		evidence = append(evidence, conn.evidence)
		entities = append(entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: conn.ip})
		severity = adjoinv1.Severity_SEVERITY_HIGH
		from += " just after it accepted a connection from " + conn.ip
	}
	e.alert = endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.name, key, detection.EpisodeID(e.start)),
		Title:           d.title,
		Description:     fmt.Sprintf("%s started %s on %s in logon session %s%s.", pbase, image, ev.GetHost(), pthHex(session), from),
		Detector:        d.name,
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{d.technique},
		Severity:        severity,
		Entities:        entities,
		Evidence:        evidence,
	}, t)
	d.episodes.Put(key, e)
	return []*adjoinv1.Alert{e.alert}
}

// remoteSpawnAgain is a copy of an emitted alert at t, for more evidence of the same episode.
func remoteSpawnAgain(a *adjoinv1.Alert, t time.Time) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: a.GetId(), Side: a.GetSide(), Source: a.GetSource(), Title: a.GetTitle(), Description: a.GetDescription(),
		Detector: a.GetDetector(), KillChainPhase: a.GetKillChainPhase(), MitreTechniques: a.GetMitreTechniques(),
		Severity: a.GetSeverity(), Status: a.GetStatus(), Version: a.GetVersion(),
		Entities:      append([]*adjoinv1.EntityRef(nil), a.GetEntities()...),
		FirstActivity: timestamppb.New(t), LastActivity: timestamppb.New(t), UpdatedTime: timestamppb.New(t),
	}
}
