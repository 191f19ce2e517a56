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

// WinRMRemoteShell raises an alert on remote command execution over WinRM / PowerShell
// remoting (T1021.006). Three signs (the third, WinRM's own log, in winrm_operational.go):
//
//   - spn (medium): a successful 4769 whose ServiceName is an SPN HTTP/<host> or WSMAN/<host>
//     requested by a user account, i.e. Kerberos to a WinRM listener. Windows usually writes
//     the service's account name (WORKSTATION6$) rather than the SPN in ServiceName, so this
//     sign appears only where the DC logs the SPN; HTTP/ is also the SPN of Kerberos web
//     sites, so list those hosts in IgnoreHosts.
//   - session (high): on the target host, the WinRM plug-in host wsmprovhost.exe starts
//     (Sysmon 1 or Security 4688) inside a network logon session (4624 LogonType 3 with the
//     same TargetLogonId) of a user account; winrshost.exe (winrs) the same way. WinRM's 4624 carries no client address, so the
//     source is taken from the latest inbound Sysmon 3 connection to port 5985/5986 on that
//     host within SessionWindow before the process started.
//
// The session sign keys its alert on the host and logon id, so the Sysmon 1 and the 4688 of
// one shell make one alert.
type WinRMRemoteShell struct {
	// Episode groups SPN tickets of one account for one host into one alert (default 10 min).
	Episode time.Duration
	// SessionWindow is how long a network logon is remembered for a later wsmprovhost.exe
	// start in it (default 10 min).
	SessionWindow time.Duration
	// ConnectionWindow bounds the gap between the inbound 5985/5986 connection and the
	// process start; 5 s of clock skew the other way is allowed (default 1 min).
	ConnectionWindow time.Duration
	// Ports are the WinRM listener ports (default 5985, 5986).
	Ports map[string]bool
	// IgnoreHosts are NetBIOS names (lower case) of hosts whose HTTP/ SPN is a web site.
	IgnoreHosts map[string]bool
	// MaxSessions bounds the logons and connections remembered (default 10 000).
	MaxSessions int

	logons  map[string]winrmLogon        // host|logonid -> network logon
	conns   map[string][]winrmConnection // host -> recent inbound connections
	pending map[string][]winrmPending    // host -> session alerts still without a source
	bursts  *detection.Burst
	auths   *bounded.Map[string, winrmAuth]       // host -> latest WinRM 169
	shells  *bounded.Map[string, winrmShellAlert] // host -> latest WinRM 91 alert
}

type winrmLogon struct {
	At       time.Time
	Account  credAccessAccount
	IP       string
	Evidence *adjoinv1.Evidence
}

// winrmPending is a session alert raised before its inbound connection was seen: Sysmon
// writes network events late (in S12 the DC's 5985 connection arrives after wsmprovhost.exe).
type winrmPending struct {
	At    time.Time
	Alert *adjoinv1.Alert
}

type winrmConnection struct {
	At       time.Time
	IP       string
	Evidence *adjoinv1.Evidence
}

// NewWinRMRemoteShell returns the detector with its defaults.
func NewWinRMRemoteShell() *WinRMRemoteShell {
	return &WinRMRemoteShell{
		Episode:          10 * time.Minute,
		SessionWindow:    10 * time.Minute,
		ConnectionWindow: time.Minute,
		Ports:            map[string]bool{"5985": true, "5986": true},
		IgnoreHosts:      map[string]bool{},
		MaxSessions:      10_000,
	}
}

// Name implements detection.Detector.
func (d *WinRMRemoteShell) Name() string { return "winrm-remote-shell" }

// Detect implements detection.Detector.
func (d *WinRMRemoteShell) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	t := ev.GetTime().AsTime()
	switch {
	case detection.IsSecurity(ev) && ev.GetEventId() == 4769:
		return d.ticket(ev, f, t)
	case detection.IsSecurity(ev) && ev.GetEventId() == 4624:
		if strings.TrimSpace(f["LogonType"]) == "3" {
			d.remember(ev, f, t)
		}
	case detection.IsSysmon(ev) && ev.GetEventId() == 3:
		if d.Ports[strings.TrimSpace(f["DestinationPort"])] && !strings.EqualFold(strings.TrimSpace(f["Initiated"]), "true") {
			if ip := winevent.ClientAddress(f["SourceIp"]); ip != "" {
				return d.connection(ev, ip, t)
			}
		}
	case (ev.GetEventId() == 91 || ev.GetEventId() == 169) && strings.EqualFold(ev.GetChannel(), winrmOperationalChannel):
		return d.operational(ev, f, t)
	case detection.IsSysmon(ev) && ev.GetEventId() == 1:
		if winrmHostProcess[detection.BaseName(f["Image"])] {
			return d.process(ev, f["LogonId"], t, "Image", "CommandLine", "ParentImage", "User", "LogonId", "ProcessId")
		}
	case detection.IsSecurity(ev) && ev.GetEventId() == 4688:
		if winrmHostProcess[detection.BaseName(f["NewProcessName"])] {
			return d.process(ev, f["TargetLogonId"], t, "NewProcessName", "ParentProcessName", "TargetUserName", "TargetDomainName", "TargetLogonId", "NewProcessId")
		}
	}
	return nil
}

// winrmHostProcess are the processes WinRM runs a remote shell in: the PowerShell remoting
// plug-in host, and winrs's command shell host.
var winrmHostProcess = map[string]bool{"wsmprovhost.exe": true, "winrshost.exe": true}

// winrmSPN returns the host of a WinRM SPN ("HTTP/ws6.theshire.local:5985" gives
// ws6.theshire.local), or "".
func winrmSPN(service string) string {
	s := strings.TrimSpace(service)
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return ""
	}
	class := strings.ToUpper(s[:i])
	if class != "HTTP" && class != "WSMAN" {
		return ""
	}
	host := s[i+1:]
	if j := strings.IndexAny(host, ":/@"); j >= 0 {
		host = host[:j]
	}
	return host
}

func (d *WinRMRemoteShell) ticket(ev *adjoinv1.Event, f map[string]string, t time.Time) []*adjoinv1.Alert {
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	target := winrmSPN(f["ServiceName"])
	nb, _ := entity.HostNames(target)
	requester := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], "")
	if target == "" || nb == "" || d.IgnoreHosts[nb] || requester.empty() || requester.machine() || requester.system() {
		return nil
	}
	if d.bursts == nil {
		d.bursts = &detection.Burst{Window: d.Episode, Threshold: 1, MaxKeys: d.MaxSessions}
	}
	ep := d.bursts.Add(requester.key()+"|"+nb, "spn", t)
	src := credAccessSource{IP: winevent.ClientAddress(f["IpAddress"])}
	desc := requester.String() + " obtained a Kerberos ticket from " + ev.GetHost() + " for the WinRM service " + f["ServiceName"] +
		" from " + src.String() + ": a remote PowerShell / WinRM session to " + target + "."
	a := credAccessAlert(entity.HashID(d.Name(), "spn", requester.key(), nb, detection.EpisodeID(ep.Start)), d.Name(),
		"WinRM: Kerberos ticket for "+f["ServiceName"], desc, adjoinv1.Severity_SEVERITY_MEDIUM, "T1021.006", ev, time.Time{},
		[]*adjoinv1.Evidence{credAccessEvidence(ev, "4769 "+requester.String()+" requested "+f["ServiceName"]+" from "+src.String(),
			"TargetUserName", "TargetDomainName", "ServiceName", "ServiceSid", "IpAddress", "IpPort", "Status", "TicketEncryptionType")})
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	a.Entities = credAccessEntities(requester.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref(),
		detection.HostRef(target, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST), credAccessDC(ev))
	return []*adjoinv1.Alert{a}
}

func (d *WinRMRemoteShell) remember(ev *adjoinv1.Event, f map[string]string, t time.Time) {
	account := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"])
	if account.empty() || account.machine() || account.system() {
		return
	}
	if d.logons == nil {
		d.logons = map[string]winrmLogon{}
	}
	if d.MaxSessions > 0 && len(d.logons) >= d.MaxSessions {
		for k, l := range d.logons {
			if t.Sub(l.At) > d.SessionWindow {
				delete(d.logons, k)
			}
		}
		if len(d.logons) >= d.MaxSessions {
			clear(d.logons)
		}
	}
	d.logons[rsvcKey(ev.GetHost(), normHex(f["TargetLogonId"]))] = winrmLogon{
		At: t, Account: account, IP: winevent.ClientAddress(f["IpAddress"]),
		Evidence: credAccessEvidence(ev, "4624 type 3 logon of "+account.String()+" on "+ev.GetHost(),
			"TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "LogonType", "LogonProcessName",
			"AuthenticationPackageName", "IpAddress", "WorkstationName"),
	}
}

// connection remembers an inbound WinRM connection and, when a session alert on the host was
// raised without a source, raises it again (same id, one more piece of evidence, the source
// entity) so that the stored alert learns where the session came from.
func (d *WinRMRemoteShell) connection(ev *adjoinv1.Event, ip string, t time.Time) []*adjoinv1.Alert {
	if d.conns == nil {
		d.conns = map[string][]winrmConnection{}
	}
	host := rsvcHost(ev.GetHost())
	kept := d.conns[host][:0]
	for _, c := range d.conns[host] {
		if t.Sub(c.At) <= d.ConnectionWindow {
			kept = append(kept, c)
		}
	}
	if d.MaxSessions > 0 && len(d.conns) >= d.MaxSessions && len(kept) == 0 {
		clear(d.conns)
	}
	c := winrmConnection{At: t, IP: ip, Evidence: credAccessEvidence(ev,
		"Sysmon 3 inbound WinRM connection from "+ip+" to "+ev.GetHost(), "Image", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort", "Initiated")}
	d.conns[host] = append(kept, c)
	if len(d.pending[host]) == 0 {
		return nil
	}
	var out []*adjoinv1.Alert
	waiting := d.pending[host][:0]
	for _, p := range d.pending[host] {
		gap := p.At.Sub(t)
		switch {
		case gap >= -5*time.Second && gap <= d.ConnectionWindow:
			a := rsvcEmit(p.Alert, t, c.Evidence)
			a.FirstActivity = p.Alert.GetFirstActivity()
			a.Entities = credAccessEntities(append(append([]*adjoinv1.EntityRef{}, p.Alert.GetEntities()...), credAccessSource{IP: ip}.ref())...)
			out = append(out, a)
		case t.Sub(p.At) <= d.ConnectionWindow:
			waiting = append(waiting, p)
		}
	}
	d.pending[host] = waiting
	return out
}

func (d *WinRMRemoteShell) process(ev *adjoinv1.Event, logonID string, t time.Time, keys ...string) []*adjoinv1.Alert {
	host := rsvcHost(ev.GetHost())
	id := normHex(logonID)
	l, ok := d.logons[rsvcKey(ev.GetHost(), id)]
	if !ok || t.Sub(l.At) > d.SessionWindow {
		return nil
	}
	evidence := []*adjoinv1.Evidence{l.Evidence}
	src := credAccessSource{IP: l.IP}
	if src.IP == "" {
		var best *winrmConnection
		for i, c := range d.conns[host] {
			if gap := t.Sub(c.At); gap >= -5*time.Second && gap <= d.ConnectionWindow && (best == nil || c.At.After(best.At)) {
				best = &d.conns[host][i]
			}
		}
		if best != nil {
			src.IP = best.IP
			evidence = append(evidence, best.Evidence)
		}
	}
	evidence = append(evidence, credAccessEvidence(ev, "wsmprovhost.exe started on "+ev.GetHost()+" in logon "+id+" of "+l.Account.String(), keys...))
	desc := l.Account.String() + " opened a WinRM / PowerShell remoting session on " + ev.GetHost() + " from " + src.String() +
		": wsmprovhost.exe runs in the network logon " + id + "; commands sent over WinRM execute in it."
	a := credAccessAlert(d.shellID(host, t, entity.HashID(d.Name(), "session", host, id)), d.Name(), "WinRM remote shell: wsmprovhost.exe in a network logon of "+l.Account.Sam,
		desc, adjoinv1.Severity_SEVERITY_HIGH, "T1021.006", ev, l.At, evidence)
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	a.Entities = credAccessEntities(l.Account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	if src.IP == "" {
		if d.pending == nil {
			d.pending = map[string][]winrmPending{}
		}
		if d.MaxSessions > 0 && len(d.pending) >= d.MaxSessions {
			clear(d.pending)
		}
		d.pending[host] = append(d.pending[host], winrmPending{At: t, Alert: a})
	}
	return []*adjoinv1.Alert{a}
}
