package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// RDPUnusualSource raises an alert on Remote Desktop logons (Security 4624 LogonType 10,
// RemoteInteractive; TerminalServices LocalSessionManager 21/25 and RemoteConnectionManager
// 1149, which carry the client address too) that do not look like the account's habit:
//
//   - tunnelled: the source is a loopback address, i.e. RDP forwarded through a tunnel
//     (plink, ngrok, chisel) that ends on the host itself;
//   - new source: the account logged on over RDP before (within History) only from other
//     addresses, and now comes from one it never used;
//   - fan-out: one source opened RDP sessions on FanOut or more distinct hosts within
//     FanOutWindow, hopping from machine to machine.
//
// An account's first RDP logon ever seen is learnt, not alerted (unless tunnelled or part of a
// fan-out). One alert per account and source per Window.
type RDPUnusualSource struct {
	// History is how long an account's RDP sources are remembered (default 30 days).
	History time.Duration
	// MaxSources bounds the sources remembered per account (default 16); MaxAccounts the
	// accounts (default 10000).
	MaxSources, MaxAccounts int
	// FanOut is how many distinct hosts one source must reach within FanOutWindow (default 3
	// within 1 hour).
	FanOut       int
	FanOutWindow time.Duration
	// Window groups the logons of one account from one source into one alert (default 1 hour).
	Window time.Duration

	seen   *bounded.Map[string, map[string]time.Time] // account -> source -> last logon
	fanout *detection.Burst
	alerts *bounded.Map[string, time.Time] // account|source -> episode start
}

// NewRDPUnusualSource returns the detector with its defaults.
func NewRDPUnusualSource() *RDPUnusualSource {
	return &RDPUnusualSource{History: 30 * 24 * time.Hour, MaxSources: 16, MaxAccounts: 10000, FanOut: 3,
		FanOutWindow: time.Hour, Window: time.Hour}
}

// Name implements detection.Detector.
func (d *RDPUnusualSource) Name() string { return "rdp-logon-unusual-source" }

// rdpLSMChannel and rdpRCMChannel are the Terminal Services logs: session logons and
// reconnections (21, 25) with the client address, and network authentications (1149).
const (
	rdpLSMChannel = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
	rdpRCMChannel = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
)

// Detect implements detection.Detector.
func (d *RDPUnusualSource) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	var account credAccessAccount
	var ip, workstation string
	var e *adjoinv1.Evidence
	switch id := ev.GetEventId(); {
	case id == 4624 && detection.IsSecurity(ev):
		if strings.TrimSpace(f["LogonType"]) != "10" {
			return nil
		}
		account = credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"])
		ip, workstation = f["IpAddress"], f["WorkstationName"]
		e = credAccessEvidence(ev, "4624 type 10 "+account.String()+" from "+ip+" ("+workstation+")",
			"LogonType", "TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "IpAddress", "WorkstationName", "AuthenticationPackageName")
	case (id == 21 || id == 25) && strings.EqualFold(ev.GetChannel(), rdpLSMChannel):
		account = credAccessAccountOf(eventFieldFold(f, "User"), "", "")
		ip = eventFieldFold(f, "Address") // "LOCAL" for a console logon: no address, no alert
		e = credAccessEvidence(ev, "TerminalServices "+itoa(id)+" session of "+account.String()+" from "+ip, "User", "SessionID", "Address")
	case id == 1149 && strings.EqualFold(ev.GetChannel(), rdpRCMChannel):
		account = credAccessAccountOf(eventFieldFold(f, "Param1"), eventFieldFold(f, "Param2"), "")
		ip = eventFieldFold(f, "Param3")
		e = credAccessEvidence(ev, "TerminalServices 1149 "+account.String()+" authenticated from "+ip, "Param1", "Param2", "Param3")
	default:
		return nil
	}
	if account.empty() || account.machine() || account.system() {
		return nil
	}
	return d.logon(ev, account, ip, workstation, e)
}

// logon judges one RDP logon of account from ip (or workstation when no address is given).
func (d *RDPUnusualSource) logon(ev *adjoinv1.Event, account credAccessAccount, ip, workstation string, e *adjoinv1.Evidence) []*adjoinv1.Alert {
	ip = winevent.StripMappedIPv4(strings.TrimSpace(ip))
	if _, err := netip.ParseAddr(ip); err != nil {
		ip = "" // "-", or LOCAL for a console session
	}
	if d.seen == nil {
		d.seen = bounded.NewMap[string, map[string]time.Time](d.MaxAccounts)
		d.alerts = bounded.NewMap[string, time.Time](d.MaxAccounts)
		d.fanout = &detection.Burst{Window: d.FanOutWindow, Threshold: d.FanOut, MaxKeys: d.MaxAccounts}
	}
	t := ev.GetTime().AsTime()
	src := credAccessSource{IP: winevent.ClientAddress(ip), Host: workstation}
	source := src.key()
	addr, err := netip.ParseAddr(ip)
	var why string
	switch {
	case err == nil && addr.IsLoopback():
		why, source = "from a loopback address: RDP tunnelled to the host itself", "loopback"
	case source == "":
		return nil // nothing to compare
	default:
		if ep := d.fanout.Add(source, rsvcHost(ev.GetHost()), t); ep.Active {
			why = "from a source that opened RDP sessions on " + itoa(int32(ep.Distinct)) + " hosts within " + d.FanOutWindow.String()
		}
	}
	sources, ok := d.seen.Get(account.key())
	if !ok {
		sources = map[string]time.Time{}
	}
	for s, at := range sources {
		if t.Sub(at) > d.History {
			delete(sources, s)
		}
	}
	if _, used := sources[source]; why == "" && !used && len(sources) > 0 {
		why = "from a source this account never used for RDP (it used " + itoa(int32(len(sources))) + " other)"
	}
	sources[source] = t
	for len(sources) > d.MaxSources {
		oldest := ""
		for s, at := range sources {
			if oldest == "" || at.Before(sources[oldest]) {
				oldest = s
			}
		}
		delete(sources, oldest)
	}
	d.seen.Put(account.key(), sources)
	if why == "" {
		return nil
	}
	key := account.key() + "|" + source
	start, ok := d.alerts.Get(key)
	if !ok || t.Sub(start) > d.Window || start.After(t) {
		start = t
		d.alerts.Put(key, start)
	}
	a := credAccessAlert(entity.HashID(d.Name(), key, detection.EpisodeID(start)), d.Name(),
		"RDP logon from an unusual source", account.String()+" logged on to "+ev.GetHost()+" over Remote Desktop "+why+".",
		adjoinv1.Severity_SEVERITY_MEDIUM, "T1021.001", ev, time.Time{}, []*adjoinv1.Evidence{e})
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	a.Entities = credAccessEntities(account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}
