package domain

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Reason kinds of an incident.
const (
	ReasonSameUser   = "same-user"
	ReasonSameHost   = "same-host"
	ReasonUserOnHost = "user-logged-on-to-host"
)

// Source is what grouping reads: the counted alerts of an entity, and the directory.
type Source interface {
	// Counts returns the alerts counted on key; an empty value when there are none.
	Counts(ctx context.Context, key string) (*adjoinv1.EntityCounts, error)
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
type Grouper struct {
	Window    time.Duration
	MaxAlerts int
	Logons    *Logons
	Source    Source
}

type walk struct {
	g       *Grouper
	ctx     context.Context
	cache   map[string]*adjoinv1.EntityCounts
	alerts  map[string]*adjoinv1.CountedAlert
	order   []string
	reasons []*adjoinv1.IncidentReason
	keys    map[string]bool
	full    bool
}

// Group returns the incident the alert seedID (counted on seedKeys) belongs to, as the counts
// stand now. It returns nil when the alert is not counted on any of seedKeys.
func (g *Grouper) Group(ctx context.Context, seedID string, seedKeys []string) (*adjoinv1.Incident, error) {
	w := g.newWalk(ctx)
	var seed *adjoinv1.CountedAlert
	for _, k := range seedKeys {
		ec, err := w.load(k)
		if err != nil {
			return nil, err
		}
		for _, c := range ec.GetAlerts() {
			if c.GetAlertId() == seedID {
				seed = c
			}
		}
	}
	if seed == nil {
		return nil, nil
	}
	if err := w.run(seed); err != nil {
		return nil, err
	}
	// Walk again from the earliest alert, so the reasons do not depend on the seed.
	first := w.earliest()
	again := g.newWalk(ctx)
	again.cache = w.cache
	if err := again.run(first); err != nil {
		return nil, err
	}
	return again.incident(), nil
}

func (g *Grouper) newWalk(ctx context.Context) *walk {
	return &walk{g: g, ctx: ctx, cache: map[string]*adjoinv1.EntityCounts{}, alerts: map[string]*adjoinv1.CountedAlert{}, keys: map[string]bool{}}
}

func (w *walk) load(key string) (*adjoinv1.EntityCounts, error) {
	if ec, ok := w.cache[key]; ok {
		return ec, nil
	}
	ec, err := w.g.Source.Counts(w.ctx, key)
	if err != nil {
		return nil, fmt.Errorf("counts of %s: %w", key, err)
	}
	w.cache[key] = ec
	return ec, nil
}

func (w *walk) run(seed *adjoinv1.CountedAlert) error {
	w.add(seed, nil)
	for i := 0; i < len(w.order); i++ {
		x := w.alerts[w.order[i]]
		at := alertTime(x)
		for _, k := range x.GetEntityKeys() {
			if err := w.expand(x, k, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// expand adds the alerts linked to x through entity key.
func (w *walk) expand(x *adjoinv1.CountedAlert, key string, at time.Time) error {
	e, ok := w.g.Source.Entity(key)
	if !ok || entity.IsDomainController(e) {
		// A domain controller is the target of most identity alerts; linking through it
		// would join every alert of the domain.
		return nil
	}
	w.keys[key] = true
	kind := ReasonSameUser
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		kind = ReasonSameHost
	}
	if err := w.linkVia(x, key, at, kind, []string{key}, "same "+describe(e)); err != nil {
		return err
	}
	switch e.GetKind() {
	case adjoinv1.EntityKind_ENTITY_KIND_USER:
		for _, l := range w.g.Logons.HostsOfUser(e.GetSamAccountName(), at, w.g.Window) {
			hk, ok := w.g.Source.HostKey(l.Host)
			if !ok || !w.linkable(hk) {
				continue
			}
			summary := fmt.Sprintf("%s logged on to %s at %s (%s)", e.GetSamAccountName(), l.Host, l.Time.UTC().Format(time.RFC3339), l.Evidence)
			if err := w.linkVia(x, hk, at, ReasonUserOnHost, []string{key, hk}, summary); err != nil {
				return err
			}
		}
	case adjoinv1.EntityKind_ENTITY_KIND_COMPUTER:
		host := e.GetDnsHostName()
		if host == "" {
			host = e.GetNetbiosName()
		}
		for _, l := range w.g.Logons.UsersOnHost(host, at, w.g.Window) {
			uk, ok := w.g.Source.UserKey(l.Domain, l.SAM, l.SID)
			if !ok || !w.linkable(uk) {
				continue
			}
			summary := fmt.Sprintf("%s logged on to %s at %s (%s)", l.SAM, host, l.Time.UTC().Format(time.RFC3339), l.Evidence)
			if err := w.linkVia(x, uk, at, ReasonUserOnHost, []string{uk, key}, summary); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walk) linkable(key string) bool {
	e, ok := w.g.Source.Entity(key)
	return ok && !entity.IsDomainController(e)
}

// linkVia adds every alert counted on key within Window of at, in time order.
func (w *walk) linkVia(x *adjoinv1.CountedAlert, key string, at time.Time, kind string, keys []string, summary string) error {
	ec, err := w.load(key)
	if err != nil {
		return err
	}
	for _, y := range sortedByTime(ec.GetAlerts()) {
		if _, seen := w.alerts[y.GetAlertId()]; seen || abs(alertTime(y).Sub(at)) > w.g.Window {
			continue
		}
		w.add(y, &adjoinv1.IncidentReason{AlertId: y.GetAlertId(), Kind: kind, EntityKeys: keys,
			Summary: summary + ", linked to alert " + x.GetAlertId()})
	}
	return nil
}

func (w *walk) add(c *adjoinv1.CountedAlert, why *adjoinv1.IncidentReason) {
	if _, seen := w.alerts[c.GetAlertId()]; seen {
		return
	}
	if w.g.MaxAlerts > 0 && len(w.order) >= w.g.MaxAlerts {
		w.full = true
		return
	}
	w.alerts[c.GetAlertId()] = c
	w.order = append(w.order, c.GetAlertId())
	if why != nil {
		w.reasons = append(w.reasons, why)
	}
}

func (w *walk) earliest() *adjoinv1.CountedAlert {
	var first *adjoinv1.CountedAlert
	for _, id := range w.order {
		c := w.alerts[id]
		if first == nil || before(c, first) {
			first = c
		}
	}
	return first
}

func (w *walk) incident() *adjoinv1.Incident {
	first := w.earliest()
	inc := &adjoinv1.Incident{
		Id:        natsx.HashID("incident", first.GetAlertId()),
		Status:    adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED,
		Reasons:   w.reasons,
		Truncated: w.full,
	}
	var all []*adjoinv1.CountedAlert
	for _, id := range w.order {
		all = append(all, w.alerts[id])
	}
	for _, c := range sortedByTime(all) {
		inc.AlertIds = append(inc.AlertIds, c.GetAlertId())
		inc.Severity = max(inc.Severity, c.GetSeverity())
		if counts.IsOpen(c.GetStatus()) {
			inc.Status = adjoinv1.AlertStatus_ALERT_STATUS_NEW
		}
		if t := alertTime(c); inc.FirstActivity == nil || t.Before(inc.FirstActivity.AsTime()) {
			inc.FirstActivity = timestamppb.New(t)
		}
		if t := c.GetLastActivity(); t != nil && (inc.LastActivity == nil || t.AsTime().After(inc.LastActivity.AsTime())) {
			inc.LastActivity = timestamppb.New(t.AsTime())
		}
	}
	for k := range w.keys {
		inc.EntityKeys = append(inc.EntityKeys, k)
	}
	sort.Strings(inc.EntityKeys)
	sides := map[adjoinv1.Side]bool{}
	for _, c := range all {
		sides[c.GetSide()] = true
	}
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

func alertTime(c *adjoinv1.CountedAlert) time.Time {
	if t := c.GetFirstActivity(); t != nil {
		return t.AsTime()
	}
	return c.GetLastActivity().AsTime()
}

func before(a, b *adjoinv1.CountedAlert) bool {
	ta, tb := alertTime(a), alertTime(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.GetAlertId() < b.GetAlertId()
}

func sortedByTime(cs []*adjoinv1.CountedAlert) []*adjoinv1.CountedAlert {
	out := append([]*adjoinv1.CountedAlert(nil), cs...)
	sort.Slice(out, func(i, j int) bool { return before(out[i], out[j]) })
	return out
}

// SameIncident reports whether two states of an incident say the same, their updated times
// aside.
func SameIncident(a, b *adjoinv1.Incident) bool {
	a, b = proto.Clone(a).(*adjoinv1.Incident), proto.Clone(b).(*adjoinv1.Incident)
	a.UpdatedTime, b.UpdatedTime = nil, nil
	return proto.Equal(a, b)
}
