package detect

import (
	"sort"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// TicketFromSecondHost raises an alert when a Kerberos ticket-granting ticket is used from a
// computer other than the one it was issued to (pass-the-ticket, T1550.003): the KDC issued a
// TGT for an account to address A (4768, success), and within the ticket's lifetime service
// tickets for the same account are requested (4769, success) from address B, which did not
// obtain a TGT for that account itself. A TGS request presents the TGT, so the TGT travelled
// from A to B (mimikatz kerberos::ptt, Rubeus ptt/renew, exported .kirbi/ccache files).
//
// Accounts are keyed by the folded sAMAccountName alone: 4768 writes "pgustavo", 4769
// "pgustavo@THESHIRE.LOCAL", and the TGT may come from one DC and the service ticket from
// another. Machine accounts, krbtgt and loopback or missing addresses are ignored. The rule
// only speaks when it saw the TGT: a service ticket for an account whose TGT it never saw says
// nothing (the golden-ticket detector handles forged TGTs). A host with several addresses
// (IPv4 and IPv6, VPN and LAN) can look like two hosts; list such addresses in Equivalent.
type TicketFromSecondHost struct {
	// TicketLifetime is how long after a 4768 the TGT can still be presented (default 10 h,
	// the domain's default "Maximum lifetime for user ticket").
	TicketLifetime time.Duration
	// MaxAccounts bounds the accounts whose TGT addresses are remembered (default 50 000); the
	// least recently seen account is forgotten first.
	MaxAccounts int
	// MaxAddresses bounds the TGT addresses remembered per account (default 16).
	MaxAddresses int
	// Equivalent maps an address to a canonical address of the same computer (default empty).
	Equivalent map[string]string

	tgts map[string]map[string]tfshTGT // sam -> address -> latest TGT
}

// tfshTGT is the latest TGT issued to one address for one account.
type tfshTGT struct {
	At       time.Time
	Evidence *adjoinv1.Evidence
}

// NewTicketFromSecondHost returns the detector with its defaults.
func NewTicketFromSecondHost() *TicketFromSecondHost {
	return &TicketFromSecondHost{TicketLifetime: 10 * time.Hour, MaxAccounts: 50_000, MaxAddresses: 16, Equivalent: map[string]string{}}
}

// Name implements detection.Detector.
func (d *TicketFromSecondHost) Name() string { return "ticket-from-second-host" }

var tfshKeys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "ServiceName", "ServiceSid", "IpAddress", "IpPort", "Status", "TicketEncryptionType", "TicketOptions"}

// Detect implements detection.Detector.
func (d *TicketFromSecondHost) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if (ev.GetEventId() != 4768 && ev.GetEventId() != 4769) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	account := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetSid"])
	ip := d.address(f["IpAddress"])
	if account.empty() || account.machine() || account.system() || account.Sam == "krbtgt" || ip == "" {
		return nil
	}
	t := ev.GetTime().AsTime()
	if ev.GetEventId() == 4768 {
		d.remember(account.key(), ip, tfshTGT{At: t, Evidence: credAccessEvidence(ev,
			"4768 TGT for "+account.String()+" issued to "+ip, tfshKeys...)})
		return nil
	}
	tgts := d.tgts[account.key()]
	var origin string
	var tgt tfshTGT
	for addr, g := range tgts {
		if t.Sub(g.At) > d.TicketLifetime || g.At.After(t) {
			continue
		}
		if addr == ip {
			return nil // B obtained its own TGT: nothing travelled
		}
		if origin == "" || g.At.After(tgt.At) || (g.At.Equal(tgt.At) && addr < origin) {
			origin, tgt = addr, g
		}
	}
	if origin == "" {
		return nil
	}
	service := credAccessAccountOf(f["ServiceName"], f["TargetDomainName"], f["ServiceSid"])
	id := entity.HashID(d.Name(), account.key(), origin, ip, detection.EpisodeID(tgt.At))
	desc := "A TGT for " + account.String() + " was issued to " + origin + " at " + tgt.At.UTC().Format(time.RFC3339) +
		", and " + ip + ", which obtained no TGT for that account, presented it to " + ev.GetHost() +
		" for a service ticket to " + service.Sam + ": the ticket was copied to another computer (pass-the-ticket)."
	a := credAccessAlert(id, d.Name(), "Pass-the-ticket: "+account.Sam+"'s TGT used from a second host", desc,
		adjoinv1.Severity_SEVERITY_HIGH, "T1550.003", ev, tgt.At, []*adjoinv1.Evidence{tgt.Evidence,
			credAccessEvidence(ev, "4769 "+account.String()+" requested a ticket for "+service.Sam+" from "+ip, tfshKeys...)})
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	a.Entities = credAccessEntities(
		account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		credAccessSource{IP: ip}.ref(),
		// The computer the TGT was issued to: where it was stolen from.
		&adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Ip: origin},
		credAccessDC(ev))
	return []*adjoinv1.Alert{a}
}

// address is the cleaned client address, mapped through Equivalent.
func (d *TicketFromSecondHost) address(v string) string {
	ip := strings.ToLower(winevent.ClientAddress(v))
	if c, ok := d.Equivalent[ip]; ok {
		return strings.ToLower(c)
	}
	return ip
}

// remember stores a TGT, dropping expired ones and bounding memory.
func (d *TicketFromSecondHost) remember(sam, ip string, g tfshTGT) {
	if d.tgts == nil {
		d.tgts = map[string]map[string]tfshTGT{}
	}
	byAddr := d.tgts[sam]
	if byAddr == nil {
		if d.MaxAccounts > 0 && len(d.tgts) >= d.MaxAccounts {
			d.evictAccount()
		}
		byAddr = map[string]tfshTGT{}
		d.tgts[sam] = byAddr
	}
	for addr, old := range byAddr {
		if g.At.Sub(old.At) > d.TicketLifetime {
			delete(byAddr, addr)
		}
	}
	if old, ok := byAddr[ip]; ok && old.At.After(g.At) {
		return
	}
	byAddr[ip] = g
	if d.MaxAddresses > 0 && len(byAddr) > d.MaxAddresses {
		addrs := make([]string, 0, len(byAddr))
		for a := range byAddr {
			addrs = append(addrs, a)
		}
		sort.Slice(addrs, func(i, j int) bool { return byAddr[addrs[i]].At.Before(byAddr[addrs[j]].At) })
		for _, a := range addrs[:len(addrs)-d.MaxAddresses] {
			delete(byAddr, a)
		}
	}
}

// evictAccount forgets the account whose latest TGT is oldest.
func (d *TicketFromSecondHost) evictAccount() {
	var victim string
	var oldest time.Time
	for sam, byAddr := range d.tgts {
		var latest time.Time
		for _, g := range byAddr {
			if g.At.After(latest) {
				latest = g.At
			}
		}
		if victim == "" || latest.Before(oldest) {
			victim, oldest = sam, latest
		}
	}
	delete(d.tgts, victim)
}
