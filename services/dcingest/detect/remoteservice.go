package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// RemoteServiceCreation raises an alert when a service is installed on a host (Security 4697,
// System 7045) by a remote client — the way PsExec, Impacket, Empire Invoke-PsExec and
// Covenant SharpSC run code on another machine — or when the service is PsExec's own
// PSEXESVC or a command line no real service has (%COMSPEC% /c, powershell -enc).
//
// Remote means: the installing logon session (4697 SubjectLogonId) is a network logon (4624
// type 3) from another address, or the same session, or the same account from the same
// address, opened \PIPE\svcctl or wrote an executable to an admin share (5145) just before.
// A session that is interactive, or that started processes on the host itself (4688), is
// local: a local `PsExec -s` is then reported as a SYSTEM elevation (execution phase, medium),
// not as lateral movement, since no second host takes part.
//
// 4697 and 7045 describe one installation in different words (7045 ServiceName is the display
// name, 4697 the key name), so the two are paired on the host and the image path within
// PairWindow and give one alert. An ordinary service installed locally with an ordinary
// image path raises nothing. 7045 carries no logon session (and its AccountName in the OTRF
// NXLog files is not the service account), so a lone 7045 only fires on the tool name or the
// command line.
type RemoteServiceCreation struct {
	// PairWindow is how far apart 4697, 7045 and later share events of one installation may
	// be (default 30 s: NXLog stamps events with their ingest time, seconds apart).
	PairWindow time.Duration
	// ShareWindow is how long an svcctl open or admin-share write stays a candidate for a later
	// installation by the same client (default 2 min).
	ShareWindow time.Duration
	// MaxSessions bounds the logon-session table (default 10000).
	MaxSessions int
	// MaxShareEvents bounds the recent share events kept (default 2048).
	MaxShareEvents int
	// MaxInstalls bounds the installations kept for pairing (default 1024).
	MaxInstalls int
	// ToolServices are lower-case service name prefixes of remote-execution tools.
	ToolServices []string
	// Episodes, when set (NewRemoteExecutionPair), gives an installation made from a client
	// address the alert of smb-remote-execution's episode of that client, and the other way
	// round: one PsExec, one alert.
	Episodes *detection.Episodes

	sessions bounded.Map[string, *rsvcSession]
	shares   []*rsvcShare
	installs map[string]*rsvcInstall
}

// NewRemoteServiceCreation returns the detector with its default windows and bounds.
func NewRemoteServiceCreation() *RemoteServiceCreation {
	return &RemoteServiceCreation{
		PairWindow:     30 * time.Second,
		ShareWindow:    2 * time.Minute,
		MaxSessions:    10000,
		MaxShareEvents: 2048,
		MaxInstalls:    1024,
		ToolServices:   []string{"psexesvc", "paexec", "remcom", "csexecsvc", "winexesvc", "btobto"},
	}
}

// Name implements detection.Detector.
func (d *RemoteServiceCreation) Name() string { return "remote-service-creation" }

type rsvcSession struct {
	ip, workstation, logonType string
	loopback                   bool // a network logon from the host to itself
	startedProcess             bool // a 4688 ran in this session on the host itself
}

// rsvcShare is a 5145 that may belong to a remote service creation.
type rsvcShare struct {
	host, logonID, sid, ip, kind, file string
	at                                 time.Time
	evidence                           *adjoinv1.Evidence
}

// rsvcInstall is one installation: the 4697 and/or 7045 of one image on one host.
type rsvcInstall struct {
	key         string
	start, last time.Time
	alert       *adjoinv1.Alert // nil until the installation is found suspicious
	logonID     string
	sid, ip     string
	pending     []*adjoinv1.Evidence // evidence gathered before the alert was raised
	keyName     string
	displayName string
	image       string
}

// Detect implements detection.Detector.
func (d *RemoteServiceCreation) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	switch {
	case detection.IsSecurity(ev) && ev.GetEventId() == 4624:
		d.observeLogon(ev)
	case detection.IsSecurity(ev) && ev.GetEventId() == 4688:
		d.observeProcess(ev)
	case detection.IsSecurity(ev) && ev.GetEventId() == 5145:
		return d.observeShare(ev)
	case detection.IsSecurity(ev) && ev.GetEventId() == 4697:
		return d.install(ev, true)
	case strings.EqualFold(ev.GetChannel(), "System") && ev.GetEventId() == 7045:
		return d.install(ev, false)
	}
	return nil
}

func (d *RemoteServiceCreation) observeLogon(ev *adjoinv1.Event) {
	f := ev.GetFields()
	d.putSession(rsvcKey(ev.GetHost(), normHex(f["TargetLogonId"])), &rsvcSession{
		ip: winevent.ClientAddress(f["IpAddress"]), workstation: f["WorkstationName"], logonType: strings.TrimSpace(f["LogonType"]),
		loopback: rsvcLoopback(f["IpAddress"]),
	})
}

// observeProcess marks a session that started a process on the host: a session of someone
// working on the machine itself, not a service-control client.
func (d *RemoteServiceCreation) observeProcess(ev *adjoinv1.Event) {
	id := normHex(ev.GetFields()["SubjectLogonId"])
	if id == "0x3e7" || id == "0x0" {
		return
	}
	key := rsvcKey(ev.GetHost(), id)
	if s, ok := d.sessions.Get(key); ok {
		s.startedProcess = true
		return
	}
	d.putSession(key, &rsvcSession{startedProcess: true})
}

// putSession stores a session, forgetting the oldest beyond MaxSessions.
func (d *RemoteServiceCreation) putSession(key string, s *rsvcSession) {
	d.sessions.Max = d.MaxSessions
	d.sessions.Put(key, s)
}

// observeShare keeps 5145 events that install or drive a service remotely, and adds them to an
// alert already raised for an installation on the host by the same client.
func (d *RemoteServiceCreation) observeShare(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	kind, file := rsvcShareKind(f)
	if kind == "" {
		return nil
	}
	t := ev.GetTime().AsTime()
	sh := &rsvcShare{
		host: rsvcHost(ev.GetHost()), logonID: normHex(f["SubjectLogonId"]), sid: entity.NormalizeSID(f["SubjectUserSid"]),
		ip: winevent.ClientAddress(f["IpAddress"]), kind: kind, file: file, at: t,
		evidence: adjEvidence(ev, "5145 "+f["SubjectUserName"]+" "+kind+" "+f["ShareName"]+`\`+f["RelativeTargetName"],
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "ShareName", "RelativeTargetName", "AccessMask"),
	}
	d.shares = append(d.shares, sh)
	if over := len(d.shares) - d.MaxShareEvents; d.MaxShareEvents > 0 && over > 0 {
		d.shares = d.shares[over:]
	}
	var out []*adjoinv1.Alert
	for _, in := range d.installs {
		if in.alert == nil || !strings.HasPrefix(in.key, sh.host+"|") || t.Sub(in.last) > d.PairWindow || t.Before(in.start.Add(-d.ShareWindow)) {
			continue
		}
		if rsvcSameClient(sh, in) || (kind == "binary-write" && file == detection.BaseName(rsvcImageFile(in.image))) {
			out = append(out, rsvcEmit(in.alert, t, sh.evidence))
		}
	}
	return out
}

func (d *RemoteServiceCreation) install(ev *adjoinv1.Event, security bool) []*adjoinv1.Alert {
	f := ev.GetFields()
	t := ev.GetTime().AsTime()
	host := rsvcHost(ev.GetHost())
	image := f["ImagePath"]
	if security {
		image = f["ServiceFileName"]
	}
	imageKey := entity.Fold(strings.Trim(strings.TrimSpace(image), `"`))
	if imageKey == "" {
		imageKey = "name:" + entity.Fold(f["ServiceName"])
	}
	key := host + "|" + imageKey
	in := d.installs[key]
	if in == nil || t.Sub(in.last) > d.PairWindow || in.last.Sub(t) > d.PairWindow {
		in = &rsvcInstall{key: key, start: t, last: t, image: image}
		d.putInstall(in)
	}
	if t.After(in.last) {
		in.last = t
	}
	var evidence *adjoinv1.Evidence
	if security {
		in.keyName = f["ServiceName"]
		in.logonID = normHex(f["SubjectLogonId"])
		in.sid = entity.NormalizeSID(f["SubjectUserSid"])
		evidence = adjEvidence(ev, "4697 "+f["SubjectUserName"]+" installed service "+f["ServiceName"],
			"ServiceName", "ServiceFileName", "ServiceAccount", "ServiceStartType", "ServiceType",
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId")
	} else {
		in.displayName = f["ServiceName"]
		// AccountName is left out on purpose: NXLog overwrote it in the OTRF files.
		evidence = adjEvidence(ev, "7045 service "+f["ServiceName"]+" installed", "ServiceName", "ImagePath", "StartType", "ServiceType")
	}
	if in.alert != nil {
		return []*adjoinv1.Alert{rsvcEmit(in.alert, t, evidence)}
	}
	in.pending = append(in.pending, evidence)
	if !security {
		if !d.isTool(f["ServiceName"], image) && !rsvcSuspiciousImage(image) {
			return nil
		}
		return []*adjoinv1.Alert{d.raise(in, ev, nil, t)}
	}
	sess, _ := d.sessions.Get(rsvcKey(ev.GetHost(), in.logonID))
	local := in.sid == "S-1-5-18" || in.logonID == "0x3e7"
	remote := false
	if sess != nil {
		switch {
		case sess.logonType == "3" && sess.ip != "":
			remote, in.ip = true, sess.ip
		case sess.logonType == "3" && sess.loopback, sess.logonType != "" && sess.logonType != "3":
			local = true
		case sess.logonType == "" && sess.startedProcess:
			local = true
		}
	}
	matched := d.matchShares(in, host, t)
	if !local && !remote {
		for _, sh := range matched {
			if sh.ip != "" {
				remote, in.ip = true, sh.ip
				break
			}
		}
	}
	for _, sh := range matched {
		in.pending = append(in.pending, sh.evidence)
	}
	if !remote && !d.isTool(in.keyName, image) && !rsvcSuspiciousImage(image) {
		return nil
	}
	verdict := "unknown"
	switch {
	case remote:
		verdict = "remote"
	case local:
		verdict = "local"
	}
	return []*adjoinv1.Alert{d.raise(in, ev, &rsvcActor{f: f, sess: sess, verdict: verdict}, t)}
}

// matchShares returns the recent share events by the installing client: the same logon
// session, the same account SID, or a write of the service binary itself.
func (d *RemoteServiceCreation) matchShares(in *rsvcInstall, host string, t time.Time) []*rsvcShare {
	var out []*rsvcShare
	imageFile := detection.BaseName(rsvcImageFile(in.image))
	for _, sh := range d.shares {
		if sh.host != host || t.Sub(sh.at) > d.ShareWindow || sh.at.Sub(t) > d.PairWindow {
			continue
		}
		if rsvcSameClient(sh, in) || (sh.kind == "binary-write" && sh.file == imageFile) {
			out = append(out, sh)
		}
	}
	return out
}

func rsvcSameClient(sh *rsvcShare, in *rsvcInstall) bool {
	if in.logonID != "" && sh.logonID == in.logonID {
		return true
	}
	return in.sid != "" && sh.sid == in.sid && (in.ip == "" || sh.ip == in.ip)
}

type rsvcActor struct {
	f       map[string]string
	sess    *rsvcSession
	verdict string
}

// raise builds the alert of an installation; actor is nil for a lone 7045.
func (d *RemoteServiceCreation) raise(in *rsvcInstall, ev *adjoinv1.Event, actor *rsvcActor, t time.Time) *adjoinv1.Alert {
	verdict := "unknown"
	if actor != nil {
		verdict = actor.verdict
	}
	name := in.keyName
	if name == "" {
		name = in.displayName
	} else if in.displayName != "" && !strings.EqualFold(in.displayName, name) {
		name += " (display name " + in.displayName + ")"
	}
	tool := d.isTool(in.keyName, in.image) || d.isTool(in.displayName, in.image)
	a := identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), in.key, detection.EpisodeID(in.start)),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1569.002"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
	}, t)
	who := "an unknown account"
	if actor != nil {
		f := actor.f
		if ref := adjUser(f["SubjectUserSid"], f["SubjectUserName"], f["SubjectDomainName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
			a.Entities = append(a.Entities, ref)
			who = f["SubjectDomainName"] + `\` + f["SubjectUserName"]
		}
	}
	what := "service " + name + " (" + rsvcShorten(in.image, 120) + ") on " + ev.GetHost()
	switch verdict {
	case "remote":
		a.Title = "Service installed remotely (PsExec-style lateral movement)"
		a.Severity = adjoinv1.Severity_SEVERITY_HIGH
		a.MitreTechniques = []string{"T1569.002", "T1021.002"}
		src := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: in.ip}
		if s := actor.sess; s != nil && s.workstation != "" && s.workstation != "-" {
			src.NetbiosName = entity.Fold(s.workstation)
		}
		a.Entities = append(a.Entities, src)
		how := "over a network logon"
		if actor.sess == nil || actor.sess.logonType != "3" {
			how = "(the address of its svcctl or admin-share access)"
		}
		a.Description = who + " installed " + what + " from " + in.ip + " " + how + "."
	case "local":
		a.Title = "Service installed locally with a remote-execution tool or command line"
		a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXECUTION
		a.Description = who + " installed " + what + " from a session on the host itself"
		if tool {
			a.Title = "PsExec-style service installed locally (SYSTEM elevation)"
			a.Description += ": a local PsExec -s, which runs commands as SYSTEM"
		}
		a.Description += "."
	default:
		a.Title = "Suspicious service installed"
		if tool {
			a.Title = "PsExec-style service installed"
		}
		a.Description = who + " installed " + what + "; where the request came from is not known."
	}
	ip, sid := "", ""
	if verdict == "remote" {
		ip = in.ip
	}
	if actor != nil {
		sid = actor.f["SubjectUserSid"]
	}
	keys := lateralKeys(ip, ev.GetHost(), sid)
	a.Id = d.Episodes.Claim(keys, keys, detection.TraceOf(ev), a.GetId())
	a.Evidence = in.pending
	in.pending = nil
	in.alert = a
	return a
}

// rsvcEmit returns the alert of an installation again with one more piece of evidence.
func rsvcEmit(a *adjoinv1.Alert, t time.Time, e *adjoinv1.Evidence) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: a.GetId(), Side: a.GetSide(), Source: a.GetSource(), Title: a.GetTitle(), Description: a.GetDescription(),
		Detector: a.GetDetector(), KillChainPhase: a.GetKillChainPhase(), MitreTechniques: a.GetMitreTechniques(),
		Severity: a.GetSeverity(), Status: a.GetStatus(), Version: a.GetVersion(), Entities: a.GetEntities(),
		FirstActivity: timestamppb.New(t), LastActivity: timestamppb.New(t), UpdatedTime: timestamppb.New(t),
		Evidence: []*adjoinv1.Evidence{e},
	}
}

func (d *RemoteServiceCreation) putInstall(in *rsvcInstall) {
	if d.installs == nil {
		d.installs = map[string]*rsvcInstall{}
	}
	d.installs[in.key] = in
	if d.MaxInstalls <= 0 || len(d.installs) <= d.MaxInstalls {
		return
	}
	var oldest *rsvcInstall
	for _, x := range d.installs {
		if oldest == nil || x.last.Before(oldest.last) {
			oldest = x
		}
	}
	delete(d.installs, oldest.key)
}

func (d *RemoteServiceCreation) isTool(name, image string) bool {
	n, img := entity.Fold(name), strings.TrimSuffix(detection.BaseName(rsvcImageFile(image)), ".exe")
	for _, p := range d.ToolServices {
		if (n != "" && strings.HasPrefix(n, p)) || (img != "" && strings.HasPrefix(img, p)) {
			return true
		}
	}
	return false
}

// rsvcSuspiciousImage reports an image path that is a command line rather than a service
// binary, or a binary in a place services are not installed from.
func rsvcSuspiciousImage(image string) bool {
	p := entity.Fold(image)
	if strings.HasPrefix(p, "%comspec%") {
		return true
	}
	for _, s := range []string{"cmd.exe /c", "cmd /c", "cmd.exe /q", "cmd /q", "powershell", "pwsh", "mshta", "rundll32",
		"regsvr32", "wscript", "cscript", "msbuild", "installutil", `\\127.0.0.1\`, `\\localhost\`, `\temp\`, `%temp%`, `\tmp\`,
		`\appdata\`, `\users\public\`, `\perflogs\`, `\$recycle.bin\`} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// rsvcShorten cuts a long command line (an encoded PowerShell payload) for a description; the
// evidence keeps it whole.
func rsvcShorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// rsvcImageFile returns the executable of an image path, without its arguments.
func rsvcImageFile(image string) string {
	p := strings.TrimSpace(image)
	if strings.HasPrefix(p, `"`) {
		if i := strings.Index(p[1:], `"`); i >= 0 {
			return p[1 : i+1]
		}
	}
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return p[:i]
	}
	return p
}

// rsvcShareKind classifies a 5145: the service-control pipe, a remote-execution tool's pipe,
// or an executable written to an administrative share.
func rsvcShareKind(f map[string]string) (kind, file string) {
	share := entity.Fold(f["ShareName"])
	if i := strings.LastIndexByte(share, '\\'); i >= 0 {
		share = share[i+1:]
	}
	rel := entity.Fold(f["RelativeTargetName"])
	switch {
	case share == "ipc$" && rel == "svcctl":
		return "svcctl", rel
	case share == "ipc$" && (strings.HasPrefix(rel, "psexesvc") || strings.HasPrefix(rel, "paexec") || strings.HasPrefix(rel, "remcom")):
		return "tool-pipe", rel
	case share != "ipc$" && strings.HasSuffix(share, "$"):
		base := detection.BaseName(rel)
		dot := strings.LastIndexByte(base, '.')
		if dot < 0 {
			return "", ""
		}
		switch base[dot:] {
		case ".exe", ".dll", ".bat", ".cmd", ".ps1", ".vbs", ".sys", ".scr", ".hta", ".js", ".wsf", ".msi", ".xll", ".cpl", ".ocx":
		default:
			return "", ""
		}
		mask, err := winevent.ParseHex(f["AccessMask"])
		if err != nil || mask&(0x2|0x4) == 0 { // WriteData, AppendData
			return "", ""
		}
		return "binary-write", base
	}
	return "", ""
}

func rsvcLoopback(ip string) bool {
	a, err := netip.ParseAddr(winevent.StripMappedIPv4(ip))
	return err == nil && a.IsLoopback()
}

func rsvcHost(host string) string {
	nb, _ := entity.HostNames(host)
	return nb
}

func rsvcKey(host, logonID string) string { return rsvcHost(host) + "|" + logonID }

// adjUser references a directory account from an event's SID, name and domain fields, or
// returns nil for an empty account or a local system identity.
func adjUser(sid, sam, domain string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	sid = strings.TrimSpace(sid)
	d, s := entity.SplitAccount(sam)
	if d == "" {
		d = entity.Fold(domain)
	}
	switch sid {
	case "S-1-5-18", "S-1-5-19", "S-1-5-20", "S-1-5-7", "S-1-0-0":
		return nil
	}
	switch d {
	case "nt authority", "window manager", "font driver host":
		return nil
	case "-":
		d = ""
	}
	if s == "-" {
		s = ""
	}
	if s == "" && entity.NormalizeSID(sid) == "" {
		return nil
	}
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, Sid: entity.NormalizeSID(sid), SamAccountName: s, Domain: d}
}

// adjEvidence is the evidence of one event, with the fields a detector used.
func adjEvidence(ev *adjoinv1.Event, summary string, keys ...string) *adjoinv1.Evidence {
	return &adjoinv1.Evidence{
		Kind:     "windows-event",
		Summary:  summary,
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  strconv.Itoa(int(ev.GetEventId())),
		RecordId: ev.GetRecordId(),
		Fields:   detection.Pick(ev.GetFields(), keys...),
	}
}
