package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// SMBRemoteExecution raises an alert on the share accesses (Security 5145, detailed file share
// auditing on the target) that remote execution needs, whether or not a service installation
// is logged afterwards: an executable or script written to an administrative share (ADMIN$ or
// a drive's C$, D$; not other hidden shares) with WriteData or AppendData, the service control manager's pipe
// (IPC$ svcctl) opened from another host, and a PsExec-family pipe (PSEXESVC, RemCom, PAExec,
// csexec, or PsExec's -stdin/-stdout/-stderr under any service name).
//
// One alert per client (address, or account when no address is logged) for an episode of such
// accesses no more than Window apart, whatever the targets: a sweep opening svcctl on fifty
// hosts (Find-LocalAdminAccess) or PsExec to three is one alert, each target a destination
// host entity and each access evidence. A computer account opening svcctl (management agents
// do) raises nothing.
type SMBRemoteExecution struct {
	// Window is the longest gap within one episode (default 5 min).
	Window time.Duration
	// MaxEpisodes bounds the client episodes remembered (default 10000).
	MaxEpisodes int

	// Episodes, when set (NewRemoteExecutionPair), joins a client's episode to the alert of a
	// service installation from the same address (remote-service-creation).
	Episodes *detection.Episodes

	episodes *bounded.Map[string, *smbExecEpisode]
}

type smbExecEpisode struct {
	start, last time.Time
	kinds       map[string]bool
}

// NewSMBRemoteExecution returns the detector with a 5 minute window and 10000 episodes.
func NewSMBRemoteExecution() *SMBRemoteExecution {
	return &SMBRemoteExecution{Window: 5 * time.Minute, MaxEpisodes: 10000}
}

// Name implements detection.Detector.
func (d *SMBRemoteExecution) Name() string { return "smb-remote-execution" }

// Detect implements detection.Detector.
func (d *SMBRemoteExecution) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 5145 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	kind, _ := rsvcShareKind(f)
	if kind == "binary-write" && !smbExecAdminShare(f["ShareName"]) {
		kind = "" // a hidden deployment share (Software$), not an administrative one
	}
	if kind == "" && smbExecPipe(f) {
		kind = "tool-pipe"
	}
	if kind == "" {
		return nil
	}
	if kind == "svcctl" && entity.IsMachineAccount(f["SubjectUserName"]) {
		return nil
	}
	if rsvcLoopback(f["IpAddress"]) {
		return nil // the host talking to itself
	}
	ip := winevent.ClientAddress(f["IpAddress"])
	client := ip
	if client == "" {
		client = entity.NormalizeSID(f["SubjectUserSid"]) + entity.Fold(f["SubjectUserName"])
	}
	if d.episodes == nil {
		d.episodes = bounded.NewMap[string, *smbExecEpisode](d.MaxEpisodes)
	}
	t := ev.GetTime().AsTime()
	key := client
	e, ok := d.episodes.Get(key)
	if !ok || t.Sub(e.last) > d.Window || e.start.Sub(t) > d.Window {
		e = &smbExecEpisode{start: t, last: t, kinds: map[string]bool{}}
		d.episodes.Put(key, e)
	}
	if t.After(e.last) {
		e.last = t
	}
	if t.Before(e.start) {
		e.start = t
	}
	e.kinds[kind] = true
	what := map[string]string{"svcctl": "opened the service control manager (IPC$ svcctl)", "tool-pipe": "opened a PsExec-family pipe",
		"binary-write": "wrote an executable to an administrative share"}[kind]
	severity := adjoinv1.Severity_SEVERITY_LOW
	switch {
	case e.kinds["tool-pipe"], e.kinds["binary-write"] && e.kinds["svcctl"]:
		severity = adjoinv1.Severity_SEVERITY_HIGH
	case e.kinds["binary-write"]:
		severity = adjoinv1.Severity_SEVERITY_MEDIUM
	}
	techniques := []string{"T1021.002"}
	if e.kinds["binary-write"] {
		techniques = append(techniques, "T1570")
	}
	if e.kinds["svcctl"] || e.kinds["tool-pipe"] {
		techniques = append(techniques, "T1569.002")
	}
	who := f["SubjectDomainName"] + `\` + f["SubjectUserName"]
	entities := []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	if ref := adjUser(f["SubjectUserSid"], f["SubjectUserName"], f["SubjectDomainName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		entities = append(entities, ref)
	}
	if ip != "" {
		entities = append(entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	target := f["ShareName"] + `\` + f["RelativeTargetName"]
	id := entity.HashID(d.Name(), key, detection.EpisodeID(e.start))
	keys := lateralKeys(ip, ev.GetHost(), f["SubjectUserSid"])
	id = d.Episodes.Claim(keys, keys, detection.TraceOf(ev), id)
	return []*adjoinv1.Alert{identityAlert(&adjoinv1.Alert{
		Id:              id,
		Detector:        d.Name(),
		Title:           "Remote execution over SMB (admin share, service control or PsExec pipe)",
		Description:     who + " from " + strings.TrimSpace(f["IpAddress"]) + " " + what + " on " + ev.GetHost() + ": " + target + ".",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: techniques,
		Severity:        severity,
		Entities:        entities,
		Evidence: []*adjoinv1.Evidence{adjEvidence(ev, "5145 "+f["SubjectUserName"]+" "+kind+" "+target+" mask "+f["AccessMask"],
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "ShareName", "RelativeTargetName", "AccessMask")},
	}, t)}
}

// smbExecAdminShare reports ADMIN$ or a drive's share (C$, D$): the shares that reach the
// system's own folders.
func smbExecAdminShare(name string) bool {
	share := entity.Fold(name)
	if i := strings.LastIndexByte(share, '\\'); i >= 0 {
		share = share[i+1:]
	}
	return share == "admin$" || (len(share) == 2 && share[1] == '$' && share[0] >= 'a' && share[0] <= 'z')
}

// smbExecPipe reports a PsExec-family pipe opened over IPC$ that rsvcShareKind does not name:
// PsExec's per-client pipes under a renamed service, RemCom's and csexec's.
func smbExecPipe(f map[string]string) bool {
	if !strings.HasSuffix(entity.Fold(f["ShareName"]), "ipc$") {
		return false
	}
	rel := entity.Fold(f["RelativeTargetName"])
	for _, p := range []string{"csexecsvc", "remcom_"} {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	for _, s := range []string{"-stdin", "-stdout", "-stderr"} {
		if strings.HasSuffix(rel, s) {
			return true
		}
	}
	return false
}
