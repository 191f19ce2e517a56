package domain

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Reason kinds of an incident.
const (
	ReasonSameUser   = "same-user"
	ReasonSameHost   = "same-host"
	ReasonUserOnHost = "user-logged-on-to-host"
)

// Source is the directory grouping reads.
type Source interface {
	Entity(key string) (*adjoinv1.Entity, bool)
	// HostKey resolves a host name (FQDN, NetBIOS or HOST$) to its entity key.
	HostKey(host string) (string, bool)
	// UserKey resolves a user seen in a logon to its entity key.
	UserKey(domain, sam, sid string) (string, bool)
}

// Grouper puts alerts into incidents. Two alerts are in one incident when they are linked,
// directly or through other alerts: counted on the same entity within Window of each other, or
// one on a user and one on a computer that user logged on to within Window. An incident is
// thus a connected component, the same whichever of its alerts one starts from; its id is that
// of its earliest alert, so it is the same on every correlator and after every restart.
//
// It reads the alerts from Alerts, where the alerts of an entity within Window of one are a
// range lookup, and follows at most MaxAlerts of them: the cost of grouping an alert depends on
// MaxAlerts, not on how many alerts its entities ever had.
type Grouper struct {
	Window    time.Duration
	MaxAlerts int
	Logons    *Logons
	Source    Source
	Alerts    *AlertWindow
}

type walk struct {
	g       *Grouper
	explain bool
	mark    uint32 // on the alerts this walk reached
	ents    map[string]*adjoinv1.Entity
	order   []*held
	reasons []*adjoinv1.IncidentReason
	keys    map[string]bool
	full    bool
}

// Group returns the incident the alert seedID (counted on seedKeys) belongs to, as the window
// stands now. It returns nil when the window holds no such alert on any of seedKeys.
func (g *Grouper) Group(seedID string, seedKeys []string) *adjoinv1.Incident {
	seed := g.Alerts.get(seedID)
	if seed == nil || !slices.ContainsFunc(seedKeys, func(k string) bool { _, ok := slices.BinarySearch(seed.keys, k); return ok }) {
		return nil
	}
	w := g.newWalk(false)
	w.run(seed)
	// Walk again from the earliest alert, so the reasons do not depend on the seed.
	again := g.newWalk(true)
	again.run(w.earliest())
	return again.incident()
}

// Outside returns the incident of an alert the window does not hold, because it is dated more
// than the window's memory before the newest alert (a late or replayed recording) or too far
// ahead of the clock: the alert and the held alerts linked to it within Window. An alert is
// thus never left out of incidents by the order its copies arrive in. It returns nil for an
// alert with no id, no entity, or a time out of range.
func (g *Grouper) Outside(a Alert) *adjoinv1.Incident {
	at, ok := alertNanos(a)
	if !ok || a.ID == "" || len(a.Keys)+len(a.Links) == 0 {
		return nil
	}
	h := &held{id: a.ID, version: max(a.Version, 1), at: at}
	h.set(a)
	h.keys = slices.Compact(slices.Sorted(slices.Values(slices.Concat(a.Keys, a.Links))))
	h.keys = h.keys[:min(len(h.keys), MaxAlertKeys)]
	for _, k := range slices.Compact(slices.Sorted(slices.Values(a.Links))) {
		if _, found := slices.BinarySearch(h.keys, k); found {
			h.links = append(h.links, k)
		}
	}
	w := g.newWalk(true)
	w.run(h)
	return w.incident()
}

// newWalk begins a walk; one that does not explain finds the alerts without their reasons.
func (g *Grouper) newWalk(explain bool) *walk {
	return &walk{g: g, explain: explain, mark: g.Alerts.newWalk(), ents: map[string]*adjoinv1.Entity{}, keys: map[string]bool{}}
}

func (w *walk) run(seed *held) {
	w.add(seed, nil)
	for i := 0; i < len(w.order); i++ {
		x := w.order[i]
		for _, k := range x.links {
			if w.full {
				// Nothing more can join: only the entities of the alerts in it remain to note.
				w.note(k)
				continue
			}
			w.expand(x, k)
		}
	}
}

// note records key among the incident's entities unless it never links (unknown, or a
// domain controller), and returns the entity.
func (w *walk) note(key string) (*adjoinv1.Entity, bool) {
	e := w.linking(key)
	if e == nil {
		return nil, false
	}
	w.keys[key] = true
	return e, true
}

// linking returns the entity of key, or nil when it never links: unknown to the directory,
// or a domain controller.
func (w *walk) linking(key string) *adjoinv1.Entity {
	e, ok := w.ents[key]
	if !ok {
		if e, ok = w.g.Source.Entity(key); !ok || entity.IsDomainController(e) {
			e = nil
		}
		w.ents[key] = e
	}
	return e
}

// expand adds the alerts linked to x through entity key.
func (w *walk) expand(x *held, key string) {
	// A domain controller is the target of most identity alerts; linking through it would
	// join every alert of the domain.
	e, ok := w.note(key)
	if !ok {
		return
	}
	kind := ReasonSameUser
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		kind = ReasonSameHost
	}
	w.linkVia(x, key, kind, []string{key}, "same "+describe(e))
	at := time.Unix(0, x.at).UTC()
	switch e.GetKind() {
	case adjoinv1.EntityKind_ENTITY_KIND_USER:
		for _, l := range w.g.Logons.HostsOfUser(e.GetSamAccountName(), at, w.g.Window) {
			hk, ok := w.g.Source.HostKey(l.Host)
			if w.full || !ok || !w.linkable(hk) {
				continue
			}
			summary := fmt.Sprintf("%s logged on to %s at %s (%s)", e.GetSamAccountName(), l.Host, l.Time.UTC().Format(time.RFC3339), l.Evidence)
			w.linkVia(x, hk, ReasonUserOnHost, []string{key, hk}, summary)
		}
	case adjoinv1.EntityKind_ENTITY_KIND_COMPUTER:
		host := e.GetDnsHostName()
		if host == "" {
			host = e.GetNetbiosName()
		}
		for _, l := range w.g.Logons.UsersOnHost(host, at, w.g.Window) {
			uk, ok := w.g.Source.UserKey(l.Domain, l.SAM, l.SID)
			if w.full || !ok || !w.linkable(uk) {
				continue
			}
			summary := fmt.Sprintf("%s logged on to %s at %s (%s)", l.SAM, host, l.Time.UTC().Format(time.RFC3339), l.Evidence)
			w.linkVia(x, uk, ReasonUserOnHost, []string{uk, key}, summary)
		}
	}
}

func (w *walk) linkable(key string) bool { return w.linking(key) != nil }

// linkVia adds every alert counted on key within Window of x, in time order.
func (w *walk) linkVia(x *held, key string, kind string, keys []string, summary string) {
	from, to := addNanos(x.at, -w.g.Window), addNanos(x.at, w.g.Window)
	w.g.Alerts.within(key, from, to, func(y *held) bool {
		switch {
		case y.mark == w.mark:
		case !w.explain:
			w.add(y, nil)
		default:
			w.add(y, &adjoinv1.IncidentReason{AlertId: y.id, Kind: kind, EntityKeys: keys,
				Summary: summary + ", linked to alert " + x.id})
		}
		return !w.full
	})
}

func (w *walk) add(h *held, why *adjoinv1.IncidentReason) {
	if h.mark == w.mark {
		return
	}
	if w.g.MaxAlerts > 0 && len(w.order) >= w.g.MaxAlerts {
		w.full = true
		return
	}
	h.mark = w.mark
	w.order = append(w.order, h)
	if why != nil {
		w.reasons = append(w.reasons, why)
	}
}

func (w *walk) earliest() *held {
	var first *held
	for _, h := range w.order {
		if first == nil || earlier(h, first) {
			first = h
		}
	}
	return first
}

func (w *walk) incident() *adjoinv1.Incident {
	first := w.earliest()
	inc := &adjoinv1.Incident{
		Id:        entity.HashID("incident", first.id),
		Status:    adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED,
		Reasons:   w.reasons,
		Truncated: w.full,
	}
	all := slices.Clone(w.order)
	slices.SortFunc(all, func(a, b *held) int {
		if earlier(a, b) {
			return -1
		}
		return 1
	})
	var lastActivity int64
	hasLast := false
	sides := map[adjoinv1.Side]bool{}
	for _, h := range all {
		inc.AlertIds = append(inc.AlertIds, h.id)
		inc.Severity = max(inc.Severity, h.severity)
		if counts.IsOpen(h.status) {
			inc.Status = adjoinv1.AlertStatus_ALERT_STATUS_NEW
		}
		if h.hasLast && (!hasLast || h.last > lastActivity) {
			lastActivity, hasLast = h.last, true
		}
		sides[h.side] = true
	}
	inc.FirstActivity = timestamppb.New(time.Unix(0, first.at))
	if hasLast {
		inc.LastActivity = timestamppb.New(time.Unix(0, lastActivity))
	}
	for k := range w.keys {
		inc.EntityKeys = append(inc.EntityKeys, k)
	}
	sort.Strings(inc.EntityKeys)
	inc.Title = fmt.Sprintf("%d alert(s) on %d entit(ies)", len(inc.AlertIds), len(inc.EntityKeys))
	if len(sides) > 1 {
		inc.Title = "Cross-source incident: " + inc.Title + ", identity and endpoint"
	}
	return inc
}

func describe(e *adjoinv1.Entity) string {
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		if e.GetDnsHostName() != "" {
			return "host " + e.GetDnsHostName()
		}
		return "host " + e.GetNetbiosName()
	}
	return "user " + entity.DomainSAM(e.GetNetbiosDomain(), e.GetSamAccountName())
}

// addNanos is t + d in Unix ns, saturated at the ends of the range.
func addNanos(t int64, d time.Duration) int64 {
	s := t + int64(d)
	switch {
	case d > 0 && s < t:
		return math.MaxInt64
	case d < 0 && s > t:
		return math.MinInt64
	}
	return s
}

// SameIncident reports whether two states of an incident say the same, their updated times
// aside.
func SameIncident(a, b *adjoinv1.Incident) bool {
	a, b = proto.Clone(a).(*adjoinv1.Incident), proto.Clone(b).(*adjoinv1.Incident)
	a.UpdatedTime, b.UpdatedTime = nil, nil
	return proto.Equal(a, b)
}
