// Package domain holds the correlator's pure state and rules, with no I/O: what logons and
// connections tell about which host an address belongs to and where users logged on, and how
// alerts group into incidents.
package domain

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Certainty of an address-to-host claim by the kind of evidence behind it.
const (
	// The host itself reported the address as its own end of a connection (Sysmon 3).
	CertaintyOwnAddress = 0.9
	// The host's machine account authenticated from the address (4624, 4768, 4769 of HOST$).
	CertaintyMachineLogon = 0.8
)

// HostClaim says that an address belonged to a host at a time.
type HostClaim struct {
	Host      string // folded host name as the evidence wrote it (FQDN or NetBIOS)
	Time      time.Time
	Certainty float64
	Evidence  string // "4624 WORKSTATION5$ from 172.18.39.5"
}

// UserLogon says that a user logged on to a host (Host), or authenticated to a domain
// controller from an address (IP, to be placed on a host through HostForIP), at a time.
type UserLogon struct {
	Domain, SAM, SID string // folded
	Host             string // folded host name; empty when only IP is known
	IP               string
	Time             time.Time
	Evidence         string
}

// Logons remembers address and logon facts seen in the event streams. It is safe for
// concurrent use. Facts older than Retention before the newest fact are forgotten, facts dated
// more than a day after the clock are ignored (one dated 9999 would make every other fact
// past retention), and past MaxFacts the oldest are forgotten first.
type Logons struct {
	Retention time.Duration
	// MaxFacts bounds the facts kept (0: DefaultMaxFacts); past it the oldest tenth goes.
	MaxFacts int
	// Now is the clock facts from the future are judged by (nil: time.Now).
	Now func() time.Time

	mu     sync.RWMutex
	byIP   map[string][]HostClaim
	byUser map[string][]UserLogon // key: folded sam
	newest time.Time
	added  int
	facts  int // facts kept
}

// DefaultMaxFacts bounds the logon and address facts kept in memory: about 200 MB at most.
const DefaultMaxFacts = 1_000_000

// futureSlack is how far after the clock a fact may be dated and still be taken.
const futureSlack = 24 * time.Hour

// NewLogons returns an empty table keeping facts for retention.
func NewLogons(retention time.Duration) *Logons {
	return &Logons{Retention: retention, byIP: map[string][]HostClaim{}, byUser: map[string][]UserLogon{}}
}

// Observe extracts the facts of one event, if it carries any, and reports whether it did.
//   - Security 4624 on host H by user U from address A: U logged on to H; if U is a machine
//     account X$, A belonged to X.
//   - Security 4768/4769 on a DC for X$ from address A: A belonged to X.
//   - Sysmon 3 on host H: H's own end of the connection belonged to H.
func (l *Logons) Observe(ev *adjoinv1.Event) bool {
	f, t, host := ev.GetFields(), ev.GetTime().AsTime(), ev.GetHost()
	if t.After(l.now().Add(futureSlack)) {
		return false
	}
	switch {
	case detection.IsSecurity(ev) && ev.GetEventId() == 4624:
		user, domain, sid := f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"]
		ip := normIP(f["IpAddress"])
		if entity.IsMachineAccount(user) {
			if ip != "" {
				l.addHost(ip, HostClaim{Host: entity.Fold(user), Time: t, Certainty: CertaintyMachineLogon,
					Evidence: "4624 " + user + " from " + ip + " on " + host})
				return true
			}
			return false
		}
		if user == "" || user == "-" || entity.NormalizeSID(sid) == "S-1-5-18" || strings.EqualFold(domain, "NT AUTHORITY") {
			return false
		}
		u := UserLogon{Domain: entity.Fold(domain), SAM: entity.Fold(user), SID: entity.NormalizeSID(sid), Time: t}
		l.addUser(withHost(u, entity.Fold(host), "4624 type "+f["LogonType"]+" "+user+" on "+host))
		if ip != "" {
			l.addUser(withIP(u, ip, "4624 type "+f["LogonType"]+" "+user+" on "+host+" from "+ip))
		}
		return true
	case detection.IsSecurity(ev) && (ev.GetEventId() == 4768 || ev.GetEventId() == 4769):
		realm, user := entity.SplitAccount(f["TargetUserName"])
		ip := normIP(f["IpAddress"])
		if ip == "" || user == "" || !isSuccess(f["Status"]) {
			return false
		}
		evidence := f["TargetUserName"] + " Kerberos " + strconv.Itoa(int(ev.GetEventId())) + " from " + ip
		if entity.IsMachineAccount(user) {
			l.addHost(ip, HostClaim{Host: entity.Fold(user), Time: t, Certainty: CertaintyMachineLogon, Evidence: evidence})
			return true
		}
		if realm == "" {
			realm = entity.Fold(f["TargetDomainName"])
		}
		l.addUser(UserLogon{Domain: realm, SAM: user, SID: entity.NormalizeSID(f["TargetSid"]), IP: ip, Time: t, Evidence: evidence})
		return true
	case detection.IsSysmon(ev) && ev.GetEventId() == 3:
		// Sysmon writes the initiator as the source of an outbound connection and of an
		// accepted TCP connection. For inbound UDP it has no initiator and writes either end
		// first (in S1, MORDORDC's DNS replies name MORDORDC as the source and the client as the
		// destination), so such a record says nothing about which address is the host's.
		var own string
		switch {
		case strings.EqualFold(f["Initiated"], "true"):
			own = f["SourceIp"]
		case strings.EqualFold(f["Protocol"], "tcp"):
			own = f["DestinationIp"]
		}
		ip := normIP(own)
		if ip == "" || host == "" {
			return false
		}
		l.addHost(ip, HostClaim{Host: entity.Fold(host), Time: t, Certainty: CertaintyOwnAddress,
			Evidence: "Sysmon 3 on " + host + " with local address " + ip})
		return true
	}
	return false
}

// HostForIP returns the best claim on ip within window of at: the most certain, then the
// closest in time, then the latest, then the first host name in order, so the answer does not
// depend on the order the facts arrived in. Loopback, link-local and unspecified addresses
// never resolve.
func (l *Logons) HostForIP(ip string, at time.Time, window time.Duration) (HostClaim, bool) {
	ip = normIP(ip)
	l.mu.RLock()
	defer l.mu.RUnlock()
	var best HostClaim
	found := false
	for _, c := range l.byIP[ip] {
		if abs(c.Time.Sub(at)) > window {
			continue
		}
		if !found || betterClaim(c, best, at) {
			best, found = c, true
		}
	}
	return best, found
}

func betterClaim(c, best HostClaim, at time.Time) bool {
	if c.Certainty != best.Certainty {
		return c.Certainty > best.Certainty
	}
	if dc, db := abs(c.Time.Sub(at)), abs(best.Time.Sub(at)); dc != db {
		return dc < db
	}
	if !c.Time.Equal(best.Time) {
		return c.Time.After(best.Time)
	}
	return c.Host < best.Host
}

// HostsOfUser returns the logons of sam within window of at, one per host, oldest first. A
// logon known only by address is placed on the host that address belonged to at the time;
// one whose address belongs to no known host is left out.
func (l *Logons) HostsOfUser(sam string, at time.Time, window time.Duration) []UserLogon {
	l.mu.RLock()
	logons := append([]UserLogon(nil), l.byUser[entity.Fold(sam)]...)
	l.mu.RUnlock()
	sortLogons(logons)
	seen := map[string]bool{}
	var out []UserLogon
	for _, u := range logons {
		if abs(u.Time.Sub(at)) > window {
			continue
		}
		if u.Host == "" {
			c, ok := l.HostForIP(u.IP, u.Time, window)
			if !ok {
				continue
			}
			u.Host, u.Evidence = c.Host, u.Evidence+" ("+c.Evidence+")"
		}
		if nb, _ := entity.HostNames(u.Host); !seen[nb] {
			seen[nb] = true
			out = append(out, u)
		}
	}
	return out
}

// sortLogons orders logons oldest first, and logons of the same instant by user, host, address
// and evidence, so that which logon stands for a host or user, and the order incidents are
// walked in, depend neither on map order nor on the order the facts arrived in.
func sortLogons(ls []UserLogon) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		switch {
		case !a.Time.Equal(b.Time):
			return a.Time.Before(b.Time)
		case a.SAM != b.SAM:
			return a.SAM < b.SAM
		case a.Host != b.Host:
			return a.Host < b.Host
		case a.IP != b.IP:
			return a.IP < b.IP
		}
		return a.Evidence < b.Evidence
	})
}

// UsersOnHost returns the logons to host (by NetBIOS name) within window of at, one per user,
// oldest first, including those known by an address that belonged to host.
func (l *Logons) UsersOnHost(host string, at time.Time, window time.Duration) []UserLogon {
	want, _ := entity.HostNames(host)
	l.mu.RLock()
	var all []UserLogon
	for _, ls := range l.byUser {
		all = append(all, ls...)
	}
	l.mu.RUnlock()
	sortLogons(all)
	seen := map[string]bool{}
	var out []UserLogon
	for _, u := range all {
		if abs(u.Time.Sub(at)) > window || seen[u.SAM] {
			continue
		}
		h := u.Host
		if h == "" {
			c, ok := l.HostForIP(u.IP, u.Time, window)
			if !ok {
				continue
			}
			h, u.Evidence = c.Host, u.Evidence+" ("+c.Evidence+")"
		}
		if nb, _ := entity.HostNames(h); nb == want {
			u.Host = h
			seen[u.SAM] = true
			out = append(out, u)
		}
	}
	return out
}

// Added counts the facts recorded so far; a change tells the correlator to retry pending alerts.
func (l *Logons) Added() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.added
}

// Facts counts the facts kept now.
func (l *Logons) Facts() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.facts
}

func (l *Logons) addHost(ip string, c HostClaim) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, old := range l.byIP[ip] {
		if old.Host == c.Host && old.Time.Equal(c.Time) {
			return
		}
	}
	l.byIP[ip] = append(l.byIP[ip], c)
	l.note(c.Time)
}

func withHost(u UserLogon, host, evidence string) UserLogon {
	u.Host, u.Evidence = host, evidence
	return u
}

func withIP(u UserLogon, ip, evidence string) UserLogon {
	u.IP, u.Evidence = ip, evidence
	return u
}

// isSuccess reads a Kerberos result code; an absent code counts as success.
func isSuccess(status string) bool {
	if status == "" {
		return true
	}
	v, err := winevent.ParseHex(status)
	return err == nil && v == 0
}

func (l *Logons) addUser(u UserLogon) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, old := range l.byUser[u.SAM] {
		if old.Host == u.Host && old.IP == u.IP && old.Time.Equal(u.Time) {
			return
		}
	}
	l.byUser[u.SAM] = append(l.byUser[u.SAM], u)
	l.note(u.Time)
}

// note advances the newest time and forgets facts past retention or past the bound; called
// with mu held.
func (l *Logons) note(t time.Time) {
	l.added++
	l.facts++
	if t.After(l.newest) {
		l.newest = t
	}
	if most := l.maxFacts(); l.facts > most {
		keep := most - most/10
		l.forgetBefore(l.oldestKept(keep))
		l.forgetAnyBeyond(keep)
		return
	}
	// Prune on every 1024th addition whatever its time: facts of two streams arrive
	// interleaved, and the one landing on the 1024th may well be older than the newest.
	if l.Retention <= 0 || l.added%1024 != 0 {
		return
	}
	l.forgetBefore(l.newest.Add(-l.Retention))
}

// oldestKept returns a time such that forgetting the facts before it keeps at least keep of
// them, and not many more: the facts are counted in 1,024 bins of time between the oldest and
// the newest (two passes, no sort and no copy of a million times under the lock), and the
// cutoff is the start of the bin where the count from the newest reaches keep.
func (l *Logons) oldestKept(keep int) time.Time {
	var lo, hi time.Time
	each := func(f func(time.Time)) {
		for _, cs := range l.byIP {
			for _, c := range cs {
				f(c.Time)
			}
		}
		for _, ls := range l.byUser {
			for _, x := range ls {
				f(x.Time)
			}
		}
	}
	n := 0
	each(func(t time.Time) {
		if n == 0 || t.Before(lo) {
			lo = t
		}
		if n == 0 || t.After(hi) {
			hi = t
		}
		n++
	})
	if keep <= 0 || keep >= n || !hi.After(lo) {
		return time.Time{}
	}
	const bins = 1024
	span := hi.Sub(lo)
	bin := func(t time.Time) int { return min(int(float64(t.Sub(lo))/float64(span)*bins), bins-1) }
	var counts [bins]int
	each(func(t time.Time) { counts[bin(t)]++ })
	total := 0
	for b := bins - 1; b >= 0; b-- {
		if total += counts[b]; total >= keep {
			return lo.Add(time.Duration(float64(span) * float64(b) / bins))
		}
	}
	return time.Time{}
}

// forgetAnyBeyond forgets whole addresses, then whole users, while more than keep facts are
// kept: facts that all share one time leave the oldest-first rule nothing to choose by.
func (l *Logons) forgetAnyBeyond(keep int) {
	for ip, cs := range l.byIP {
		if l.facts <= keep {
			return
		}
		l.facts -= len(cs)
		delete(l.byIP, ip)
	}
	for u, ls := range l.byUser {
		if l.facts <= keep {
			return
		}
		l.facts -= len(ls)
		delete(l.byUser, u)
	}
}

// forgetBefore forgets the facts dated before cutoff.
func (l *Logons) forgetBefore(cutoff time.Time) {
	l.facts = 0
	for ip, cs := range l.byIP {
		kept := cs[:0]
		for _, c := range cs {
			if !c.Time.Before(cutoff) {
				kept = append(kept, c)
			}
		}
		l.facts += len(kept)
		if len(kept) == 0 {
			delete(l.byIP, ip)
		} else {
			l.byIP[ip] = kept
		}
	}
	for u, ls := range l.byUser {
		kept := ls[:0]
		for _, x := range ls {
			if !x.Time.Before(cutoff) {
				kept = append(kept, x)
			}
		}
		l.facts += len(kept)
		if len(kept) == 0 {
			delete(l.byUser, u)
		} else {
			l.byUser[u] = kept
		}
	}
}

func (l *Logons) maxFacts() int {
	if l.MaxFacts > 0 {
		return l.MaxFacts
	}
	return DefaultMaxFacts
}

func (l *Logons) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// normIP returns the canonical form of a routable address, or "".
func normIP(s string) string {
	s = winevent.StripMappedIPv4(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
		return ""
	}
	return a.String()
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
