package domain_test

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// oldSource is what grouping reads: the counted alerts of an entity, and the directory.
type oldSource interface {
	// Counts returns the alerts counted on key; an empty value when there are none.
	Counts(ctx context.Context, key string) (*adjoinv1.EntityCounts, error)
	Entity(key string) (*adjoinv1.Entity, bool)
	// HostKey resolves a host name (FQDN, NetBIOS or HOST$) to its entity key.
	HostKey(host string) (string, bool)
	// UserKey resolves a user seen in a logon to its entity key.
	UserKey(domain, sam, sid string) (string, bool)
}

// oldGrouper puts alerts into incidents. Two alerts are in one incident when they are linked,
// directly or through other alerts: counted on the same entity within Window of each other, or
// one on a user and one on a computer that user logged on to within Window. An incident is
// thus a connected component, the same whichever of its alerts one starts from; its id is that
// of its earliest alert, so it is the same on every correlator and after every restart.
type oldGrouper struct {
	Window    time.Duration
	MaxAlerts int
	Logons    *domain.Logons
	Source oldSource
}

type oldWalk struct {
	g       *oldGrouper
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
func (g *oldGrouper) Group(ctx context.Context, seedID string, seedKeys []string) (*adjoinv1.Incident, error) {
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

func (g *oldGrouper) newWalk(ctx context.Context) *oldWalk {
	return &oldWalk{g: g, ctx: ctx, cache: map[string]*adjoinv1.EntityCounts{}, alerts: map[string]*adjoinv1.CountedAlert{}, keys: map[string]bool{}}
}

func (w *oldWalk) load(key string) (*adjoinv1.EntityCounts, error) {
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

func (w *oldWalk) run(seed *adjoinv1.CountedAlert) error {
	w.add(seed, nil)
	for i := 0; i < len(w.order); i++ {
		x := w.alerts[w.order[i]]
		at := oldAlertTime(x)
		for _, k := range x.GetEntityKeys() {
			if err := w.expand(x, k, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// expand adds the alerts linked to x through entity key.
func (w *oldWalk) expand(x *adjoinv1.CountedAlert, key string, at time.Time) error {
	e, ok := w.g.Source.Entity(key)
	if !ok || entity.IsDomainController(e) {
		// A domain controller is the target of most identity alerts; linking through it
		// would join every alert of the domain.
		return nil
	}
	w.keys[key] = true
	kind := domain.ReasonSameUser
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		kind = domain.ReasonSameHost
	}
	if err := w.linkVia(x, key, at, kind, []string{key}, "same "+oldDescribe(e)); err != nil {
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
			if err := w.linkVia(x, hk, at, domain.ReasonUserOnHost, []string{key, hk}, summary); err != nil {
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
			if err := w.linkVia(x, uk, at, domain.ReasonUserOnHost, []string{uk, key}, summary); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *oldWalk) linkable(key string) bool {
	e, ok := w.g.Source.Entity(key)
	return ok && !entity.IsDomainController(e)
}

// linkVia adds every alert counted on key within Window of at, in time order.
func (w *oldWalk) linkVia(x *adjoinv1.CountedAlert, key string, at time.Time, kind string, keys []string, summary string) error {
	ec, err := w.load(key)
	if err != nil {
		return err
	}
	for _, y := range oldSorted(ec.GetAlerts()) {
		if _, seen := w.alerts[y.GetAlertId()]; seen || absDur(oldAlertTime(y).Sub(at)) > w.g.Window {
			continue
		}
		w.add(y, &adjoinv1.IncidentReason{AlertId: y.GetAlertId(), Kind: kind, EntityKeys: keys,
			Summary: summary + ", linked to alert " + x.GetAlertId()})
	}
	return nil
}

func (w *oldWalk) add(c *adjoinv1.CountedAlert, why *adjoinv1.IncidentReason) {
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

func (w *oldWalk) earliest() *adjoinv1.CountedAlert {
	var first *adjoinv1.CountedAlert
	for _, id := range w.order {
		c := w.alerts[id]
		if first == nil || oldBefore(c, first) {
			first = c
		}
	}
	return first
}

func (w *oldWalk) incident() *adjoinv1.Incident {
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
	for _, c := range oldSorted(all) {
		inc.AlertIds = append(inc.AlertIds, c.GetAlertId())
		inc.Severity = max(inc.Severity, c.GetSeverity())
		if counts.IsOpen(c.GetStatus()) {
			inc.Status = adjoinv1.AlertStatus_ALERT_STATUS_NEW
		}
		if t := oldAlertTime(c); inc.FirstActivity == nil || t.Before(inc.FirstActivity.AsTime()) {
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

func oldDescribe(e *adjoinv1.Entity) string {
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		if e.GetDnsHostName() != "" {
			return "host " + e.GetDnsHostName()
		}
		return "host " + e.GetNetbiosName()
	}
	return "user " + entity.DomainSAM(e.GetNetbiosDomain(), e.GetSamAccountName())
}

func oldAlertTime(c *adjoinv1.CountedAlert) time.Time {
	if t := c.GetFirstActivity(); t != nil {
		return t.AsTime()
	}
	return c.GetLastActivity().AsTime()
}

func oldBefore(a, b *adjoinv1.CountedAlert) bool {
	ta, tb := oldAlertTime(a), oldAlertTime(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.GetAlertId() < b.GetAlertId()
}

func oldSorted(cs []*adjoinv1.CountedAlert) []*adjoinv1.CountedAlert {
	out := append([]*adjoinv1.CountedAlert(nil), cs...)
	sort.Slice(out, func(i, j int) bool { return oldBefore(out[i], out[j]) })
	return out
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
