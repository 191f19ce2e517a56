package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// NTLMAnomaly raises two kinds of alert on successful NTLM network authentication (T1550.002):
//
//   - kerberos-account (high): NTLM for an account that the domain controllers saw use
//     Kerberos (4768/4769 success) within Window, from a computer that is not where that
//     account got its Kerberos tickets. Windows clients in a domain use Kerberos; an NT hash
//     replayed from another computer (mimikatz pth, Impacket, CrackMapExec) speaks NTLM.
//   - ntlmv1 (low): a 4624 with LmPackageName "NTLM V1" for a user account, a weak protocol
//     whose responses crack to the NT hash.
//
// NTLM is read from 4776 on a DC (Status 0; the client is named only by the Workstation name
// it chose) and from 4624 LogonType 3 with AuthenticationPackageName NTLM on any host (client
// address and workstation name). To compare a workstation name with the addresses Kerberos
// saw, the detector learns which address each computer uses from the computer accounts' own
// 4768/4769 ("WORKSTATION6$" from 172.18.39.6) and from 4624 events that carry both. When the
// source of an NTLM logon cannot be placed at all the rule stays silent rather than guess.
// Machine accounts, ANONYMOUS LOGON, local identities and loopback sources are ignored.
// Kerberos history is kept per account across all DCs, not per DC: the TGT and a later NTLM
// validation are often handled by different DCs.
type NTLMAnomaly struct {
	// Window is how long an account's Kerberos use from an address is remembered (default 24 h).
	Window time.Duration
	// Episode groups further NTLM logons of one account from one source into one alert
	// (default 1 h).
	Episode time.Duration
	// WeakProtocol enables the NTLM V1 alert (default true).
	WeakProtocol bool
	// MaxAccounts bounds the accounts and the computers remembered (default 50 000 each).
	MaxAccounts int

	kerberos map[string]map[string]time.Time // sam -> address -> last Kerberos success
	hostIP   map[string]map[string]time.Time // netbios name -> address -> last seen
	ipHost   map[string]string               // address -> netbios name
	bursts   *detection.Burst
}

// NewNTLMAnomaly returns the detector with its defaults.
func NewNTLMAnomaly() *NTLMAnomaly {
	return &NTLMAnomaly{Window: 24 * time.Hour, Episode: time.Hour, WeakProtocol: true, MaxAccounts: 50_000}
}

// Name implements detection.Detector.
func (d *NTLMAnomaly) Name() string { return "ntlm-anomaly" }

var ntlmAnomalyKeys = []string{"TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "LogonType",
	"AuthenticationPackageName", "LmPackageName", "IpAddress", "WorkstationName", "Workstation", "PackageName", "Status"}

// Detect implements detection.Detector.
func (d *NTLMAnomaly) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	t := ev.GetTime().AsTime()
	switch ev.GetEventId() {
	case 4768, 4769:
		d.learnKerberos(f, t)
		return nil
	case 4776:
		if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
			return nil
		}
		account := credAccessAccountOf(f["TargetUserName"], "", "")
		src := credAccessSource{Host: ntlmAnomalyName(f["Workstation"])}
		return d.check(ev, account, src, false, t)
	case 4624:
		if strings.TrimSpace(f["LogonType"]) != "3" {
			return nil
		}
		lm := strings.ToUpper(strings.TrimSpace(f["LmPackageName"]))
		if !strings.EqualFold(strings.TrimSpace(f["AuthenticationPackageName"]), "NTLM") && !strings.HasPrefix(lm, "NTLM") {
			return nil
		}
		account := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"])
		src := credAccessSource{IP: winevent.ClientAddress(f["IpAddress"]), Host: ntlmAnomalyName(f["WorkstationName"])}
		if src.IP != "" && src.Host != "" {
			d.learnHost(src.Host, src.IP, t)
		}
		return d.check(ev, account, src, lm == "NTLM V1", t)
	}
	return nil
}

// check raises the alerts one NTLM authentication deserves.
func (d *NTLMAnomaly) check(ev *adjoinv1.Event, account credAccessAccount, src credAccessSource, v1 bool, t time.Time) []*adjoinv1.Alert {
	if account.empty() || account.machine() || account.system() || src.key() == "" {
		return nil
	}
	if d.bursts == nil {
		d.bursts = &detection.Burst{Window: d.Episode, Threshold: 1, MaxKeys: d.MaxAccounts}
	}
	var out []*adjoinv1.Alert
	if kerb := d.recentKerberos(account.key(), t); len(kerb) > 0 && d.elsewhere(src, kerb) {
		ep := d.bursts.Add("kerberos|"+account.key()+"|"+src.key(), "ntlm", t)
		desc := fmt.Sprintf("%s authenticated with NTLM at %s from %s, while it used Kerberos from %s in the last %s: "+
			"an NTLM logon from another computer than the account's Kerberos clients is how a stolen NT hash is replayed (pass-the-hash).",
			account, ev.GetHost(), src, strings.Join(kerb, ", "), d.Window)
		out = append(out, d.alert(ev, entity.HashID(d.Name(), "kerberos-account", account.key(), src.key(), detection.EpisodeID(ep.Start)),
			"NTLM logon for a Kerberos account from another computer", desc, adjoinv1.Severity_SEVERITY_HIGH, account, src))
	}
	if v1 && d.WeakProtocol {
		ep := d.bursts.Add("ntlmv1|"+account.key()+"|"+src.key(), "ntlm", t)
		desc := fmt.Sprintf("%s authenticated to %s from %s with NTLM V1, whose responses can be cracked to the account's NT hash; "+
			"a client offering NTLM V1 is misconfigured or downgraded by an attacker.", account, ev.GetHost(), src)
		out = append(out, d.alert(ev, entity.HashID(d.Name(), "ntlmv1", account.key(), src.key(), detection.EpisodeID(ep.Start)),
			"NTLM V1 logon by a user account", desc, adjoinv1.Severity_SEVERITY_LOW, account, src))
	}
	return out
}

func (d *NTLMAnomaly) alert(ev *adjoinv1.Event, id, title, desc string, sev adjoinv1.Severity, account credAccessAccount, src credAccessSource) *adjoinv1.Alert {
	summary := fmt.Sprintf("%d NTLM logon of %s from %s", ev.GetEventId(), account, src)
	a := credAccessAlert(id, d.Name(), title, desc, sev, "T1550.002", ev, time.Time{},
		[]*adjoinv1.Evidence{credAccessEvidence(ev, summary, ntlmAnomalyKeys...)})
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	role := adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST
	if ev.GetEventId() == 4776 {
		role = adjoinv1.EntityRole_ENTITY_ROLE_TARGET // the DC that validated the response
	}
	a.Entities = credAccessEntities(account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref(), detection.HostRef(ev.GetHost(), role))
	return a
}

// elsewhere reports whether the NTLM source is known not to be any of the account's Kerberos
// addresses. An unplaceable source (a workstation name with no known address, while some
// Kerberos address has no known name) is not "elsewhere".
func (d *NTLMAnomaly) elsewhere(src credAccessSource, kerb []string) bool {
	ips := map[string]bool{}
	if src.IP != "" {
		ips[strings.ToLower(src.IP)] = true
	}
	nb, _ := entity.HostNames(src.Host)
	for ip := range d.hostIP[nb] {
		ips[ip] = true
	}
	allNamed := true
	for _, k := range kerb {
		if ips[k] {
			return false
		}
		name, ok := d.ipHost[k]
		if !ok {
			allNamed = false
		} else if nb != "" && name == nb {
			return false
		}
	}
	return len(ips) > 0 || (nb != "" && allNamed)
}

// recentKerberos lists, sorted, the addresses the account used Kerberos from within Window.
func (d *NTLMAnomaly) recentKerberos(sam string, t time.Time) []string {
	var out []string
	for ip, at := range d.kerberos[sam] {
		if t.Sub(at) <= d.Window && !at.After(t) {
			out = append(out, ip)
		}
	}
	sort.Strings(out)
	return out
}

// learnKerberos remembers a successful 4768/4769: a user account's Kerberos address, or, for a
// computer account's own request, the computer's address.
func (d *NTLMAnomaly) learnKerberos(f map[string]string, t time.Time) {
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return
	}
	account := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], "")
	ip := strings.ToLower(winevent.ClientAddress(f["IpAddress"]))
	if account.empty() || account.system() || ip == "" {
		return
	}
	if account.machine() {
		d.learnHost(strings.TrimSuffix(account.Sam, "$"), ip, t)
		return
	}
	if d.kerberos == nil {
		d.kerberos = map[string]map[string]time.Time{}
	}
	byAddr := d.kerberos[account.key()]
	if byAddr == nil {
		if d.MaxAccounts > 0 && len(d.kerberos) >= d.MaxAccounts {
			ntlmAnomalyEvict(d.kerberos)
		}
		byAddr = map[string]time.Time{}
		d.kerberos[account.key()] = byAddr
	}
	for a, at := range byAddr {
		if t.Sub(at) > d.Window {
			delete(byAddr, a)
		}
	}
	if t.After(byAddr[ip]) {
		byAddr[ip] = t
	}
}

// learnHost remembers that a computer (NetBIOS name) uses an address.
func (d *NTLMAnomaly) learnHost(name, ip string, t time.Time) {
	nb, _ := entity.HostNames(name)
	ip = strings.ToLower(ip)
	if nb == "" || nb == "-" || ip == "" {
		return
	}
	if d.hostIP == nil {
		d.hostIP = map[string]map[string]time.Time{}
		d.ipHost = map[string]string{}
	}
	byAddr := d.hostIP[nb]
	if byAddr == nil {
		if d.MaxAccounts > 0 && len(d.hostIP) >= d.MaxAccounts {
			ntlmAnomalyEvict(d.hostIP)
		}
		byAddr = map[string]time.Time{}
		d.hostIP[nb] = byAddr
	}
	if old, ok := d.ipHost[ip]; ok && old != nb {
		delete(d.hostIP[old], ip) // the address moved (DHCP)
	}
	byAddr[ip] = t
	if len(d.ipHost) >= 4*d.MaxAccounts && d.MaxAccounts > 0 {
		clear(d.ipHost)
	}
	d.ipHost[ip] = nb
}

// ntlmAnomalyEvict forgets the key whose latest time is oldest.
func ntlmAnomalyEvict(m map[string]map[string]time.Time) {
	var victim string
	var oldest time.Time
	for k, byAddr := range m {
		var latest time.Time
		for _, at := range byAddr {
			if at.After(latest) {
				latest = at
			}
		}
		if victim == "" || latest.Before(oldest) {
			victim, oldest = k, latest
		}
	}
	delete(m, victim)
}

// ntlmAnomalyName cleans a client workstation name ("\\WS01", "-", "").
func ntlmAnomalyName(v string) string {
	v = strings.TrimLeft(strings.TrimSpace(v), `\`)
	if v == "-" {
		return ""
	}
	return v
}
