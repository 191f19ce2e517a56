package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// RemoteScheduledTask raises an alert when a scheduled task is created or changed on a host
// from another host (schtasks /s, Impacket atexec, SharpTask, the ITaskSchedulerService RPC):
// Security 4698 (created) or 4702 (updated) by a logon session that came over the network
// (the 4624 of its SubjectLogonId carries a remote address), or whose RPC client has no local
// process (ClientProcessId 0, logged by Windows 10 / Server 2016 and later) and is a user; and
// the legacy AT service's pipe (5145 IPC$ atsvc) opened from another host.
//
// The Task Scheduler's own log (Microsoft-Windows-TaskScheduler/Operational 106 registered,
// 140 updated, 200 action started, 129/100/102 ran) names the task but not the caller: those
// events are added as evidence to the alert of the same task on the same host within Window.
// One alert per host and task (or per host and client for atsvc) per episode; high, or medium
// when the task runs an ordinary program (not a shell, script host, launcher or temp path).
type RemoteScheduledTask struct {
	// Window is the longest gap within one episode, and how far apart Task Scheduler events may
	// be from the 4698/4702 they are joined to (default 10 min).
	Window time.Duration
	// MaxTasks bounds the episodes and the held Task Scheduler events (default 10000 each).
	MaxTasks int

	sessions *Sessions
	episodes *bounded.Map[string, *schedTaskEpisode]
	held     *bounded.Map[string, []*adjoinv1.Evidence]
}

type schedTaskEpisode struct {
	start, last time.Time
	alert       *adjoinv1.Alert
}

// NewRemoteScheduledTask returns the detector with a 10 minute window and 10000 tasks, reading
// logon sessions from sessions (may be nil: only the RPC-client test is left).
func NewRemoteScheduledTask(sessions *Sessions) *RemoteScheduledTask {
	return &RemoteScheduledTask{Window: 10 * time.Minute, MaxTasks: 10000, sessions: sessions}
}

// Name implements detection.Detector.
func (d *RemoteScheduledTask) Name() string { return "remote-scheduled-task" }

// Detect implements detection.Detector.
func (d *RemoteScheduledTask) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	id := ev.GetEventId()
	switch {
	case (id == 4698 || id == 4702) && detection.IsSecurity(ev):
		return d.task(ev)
	case id == 5145 && detection.IsSecurity(ev):
		return d.atsvc(ev)
	case (id == 106 || id == 140 || id == 200 || id == 129 || id == 100 || id == 102) &&
		strings.EqualFold(ev.GetChannel(), "Microsoft-Windows-TaskScheduler/Operational"):
		return d.operational(ev)
	}
	return nil
}

func (d *RemoteScheduledTask) init() {
	if d.episodes == nil {
		d.episodes = bounded.NewMap[string, *schedTaskEpisode](d.MaxTasks)
		d.held = bounded.NewMap[string, []*adjoinv1.Evidence](d.MaxTasks)
	}
}

func (d *RemoteScheduledTask) task(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	sid := entity.NormalizeSID(f["SubjectUserSid"])
	if sid == "S-1-5-18" || sid == "S-1-5-19" || sid == "S-1-5-20" || entity.IsMachineAccount(f["SubjectUserName"]) {
		return nil
	}
	ip, how := "", ""
	if s, ok := d.sessions.Lookup(ev.GetHost(), normHex(f["SubjectLogonId"])); ok && s.IP != "" {
		ip, how = s.IP, "over a network logon from "+s.IP
	} else if strings.TrimSpace(f["ClientProcessId"]) == "0" && strings.TrimSpace(f["ParentProcessId"]) == "0" {
		how = "by an RPC client with no local process"
	} else {
		return nil
	}
	verb := map[int32]string{4698: "created", 4702: "updated"}[ev.GetEventId()]
	command := schedTaskCommand(f["TaskContent"] + f["TaskContentNew"])
	summary := itoa(ev.GetEventId()) + " " + f["SubjectUserName"] + " " + verb + " task " + f["TaskName"]
	if command != "" {
		summary += " running " + command
	}
	e := adjEvidence(ev, summary, "TaskName", "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId",
		"ClientProcessId", "ParentProcessId", "RpcCallClientLocality")
	desc := f["SubjectDomainName"] + `\` + f["SubjectUserName"] + " " + verb + " scheduled task " + f["TaskName"] + " on " + ev.GetHost() + " " + how + "."
	out := d.raise(ev, "task|"+entity.Fold(f["TaskName"]), ip, desc, e, adjUser(f["SubjectUserSid"], f["SubjectUserName"], f["SubjectDomainName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	if command != "" && !rsvcSuspiciousImage(command) {
		out[0].Severity = adjoinv1.Severity_SEVERITY_MEDIUM // an ordinary program: an administrator's task as likely as not
	}
	return out
}

// atsvc raises on the AT service's pipe opened from another host by a user.
func (d *RemoteScheduledTask) atsvc(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	if entity.Fold(f["RelativeTargetName"]) != "atsvc" || !strings.HasSuffix(entity.Fold(f["ShareName"]), "ipc$") || entity.IsMachineAccount(f["SubjectUserName"]) {
		return nil
	}
	ip := winevent.ClientAddress(f["IpAddress"])
	if ip == "" {
		return nil
	}
	e := adjEvidence(ev, "5145 "+f["SubjectUserName"]+" opened IPC$ atsvc from "+ip,
		"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "ShareName", "RelativeTargetName", "AccessMask")
	desc := f["SubjectDomainName"] + `\` + f["SubjectUserName"] + " opened the AT scheduler pipe (atsvc) on " + ev.GetHost() + " from " + ip + "."
	return d.raise(ev, "atsvc|"+ip, ip, desc, e, adjUser(f["SubjectUserSid"], f["SubjectUserName"], f["SubjectDomainName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
}

func (d *RemoteScheduledTask) raise(ev *adjoinv1.Event, what, ip, desc string, e *adjoinv1.Evidence, actor *adjoinv1.EntityRef) []*adjoinv1.Alert {
	d.init()
	t := ev.GetTime().AsTime()
	key := rsvcHost(ev.GetHost()) + "|" + what
	ep, ok := d.episodes.Get(key)
	if !ok || t.Sub(ep.last) > d.Window || ep.start.Sub(t) > d.Window {
		ep = &schedTaskEpisode{start: t, last: t}
		d.episodes.Put(key, ep)
	}
	if t.After(ep.last) {
		ep.last = t
	}
	entities := []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	if actor != nil {
		entities = append(entities, actor)
	}
	if ip != "" {
		entities = append(entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	evidence := []*adjoinv1.Evidence{e}
	if held, ok := d.held.Get(key); ok {
		for _, h := range held {
			if schedTaskAbs(h.GetTime().AsTime().Sub(t)) <= d.Window {
				evidence = append(evidence, h)
			}
		}
		d.held.Put(key, nil)
	}
	ep.alert = identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), key, detection.EpisodeID(ep.start)),
		Detector:        d.Name(),
		Title:           "Scheduled task created or changed remotely",
		Description:     desc,
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1053.005"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        entities,
		Evidence:        evidence,
	}, t)
	return []*adjoinv1.Alert{ep.alert}
}

// operational adds a Task Scheduler event to the alert of its task, or holds it (at most 8 per
// task) for a 4698/4702 logged after it.
func (d *RemoteScheduledTask) operational(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	if f["TaskName"] == "" {
		return nil
	}
	d.init()
	t := ev.GetTime().AsTime()
	key := rsvcHost(ev.GetHost()) + "|task|" + entity.Fold(f["TaskName"])
	e := adjEvidence(ev, "TaskScheduler "+itoa(ev.GetEventId())+" "+f["TaskName"], "TaskName", "UserContext", "UserName", "ActionName", "Path")
	if ep, ok := d.episodes.Get(key); ok && t.Sub(ep.last) <= d.Window && ep.start.Sub(t) <= d.Window {
		a := rsvcEmit(ep.alert, t, e)
		return []*adjoinv1.Alert{a}
	}
	held, _ := d.held.Get(key)
	if len(held) >= 8 {
		held = held[1:]
	}
	d.held.Put(key, append(held, e))
	return nil
}

// schedTaskCommand is the first <Command> (and its <Arguments>) of a task's XML, cut short.
func schedTaskCommand(xml string) string {
	cmd := schedTaskElement(xml, "Command")
	if args := schedTaskElement(xml, "Arguments"); args != "" {
		cmd += " " + args
	}
	return rsvcShorten(cmd, 200)
}

func schedTaskElement(xml, name string) string {
	i := strings.Index(xml, "<"+name+">")
	if i < 0 {
		return ""
	}
	rest := xml[i+len(name)+2:]
	if j := strings.Index(rest, "</"+name+">"); j >= 0 {
		return strings.TrimSpace(rest[:j])
	}
	return ""
}

func itoa(id int32) string { return strconv.Itoa(int(id)) }

func schedTaskAbs(x time.Duration) time.Duration {
	if x < 0 {
		return -x
	}
	return x
}
