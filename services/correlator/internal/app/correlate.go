// Package app is the correlator's use case: resolve an alert's entities against the directory
// (and addresses against recorded logons), count it on each entity it concerns, and publish it
// joined to each of them with the other side's alerts on the same entity (incidents are the
// incident builder's, on INCIDENTS).
package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Counter applies an alert version to one entity's counts, recording links (the entities that
// join the alert to incidents), and returns the counts as stored. Implementations must make
// Apply idempotent and safe against concurrent writers.
type Counter interface {
	Apply(ctx context.Context, entityKey string, a *adjoinv1.Alert, links []string) (*adjoinv1.EntityCounts, bool, error)
}

// Publisher stores a correlated alert on the CORRELATED stream under subject, deduplicated by id.
type Publisher interface {
	PublishCorrelated(ctx context.Context, subject, id string, c *adjoinv1.CorrelatedAlert) error
}

// Correlator joins alerts to on-prem AD entities.
type Correlator struct {
	Index   *directory.Index
	Counter Counter
	Out     Publisher
	// Logons places addresses on hosts; nil resolves no address.
	Logons *domain.Logons
	// Window bounds how far apart in time an address claim and an alert may be.
	Window time.Duration
	Now    func() time.Time
}

// Outcome says what Handle did with an alert, for logs and tests.
type Outcome struct {
	Entities   []string // keys the alert was counted on
	Excluded   string   // reason, when cloud-only
	Unresolved bool     // nothing resolved
	// Pending is true when a reference that could still resolve (a name or address the
	// directory or the logons may learn later) did not: the alert is worth handling again.
	Pending bool
}

// Handle correlates one alert. It is safe to call again with the same alert: counts do not
// move and the publishes carry the same deduplication ids. An error means nothing may be
// acknowledged; the caller retries the whole alert.
func (c *Correlator) Handle(ctx context.Context, a *adjoinv1.Alert) (Outcome, error) {
	var out Outcome
	resolutions, keys, links := c.resolve(a)
	for i, r := range resolutions {
		if r.GetEntityKey() == "" && resolvable(a.GetEntities()[i]) {
			out.Pending = true
		}
	}
	now := timestamppb.New(c.now())
	if len(keys) == 0 {
		subject, reason := SubjectUnresolved, "no entity reference matched the directory"
		if r := cloudOnly(a); r != "" {
			subject, reason, out.Excluded = SubjectExcluded, r, r
		} else {
			out.Unresolved = true
		}
		msg := &adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolutions, Reason: reason, CorrelatedTime: now}
		return out, c.Out.PublishCorrelated(ctx, subject, msgID(a, ""), msg)
	}
	stored := make(map[string]*adjoinv1.EntityCounts, len(keys))
	for _, k := range keys {
		ec, _, err := c.Counter.Apply(ctx, k.key, a, links)
		if err != nil {
			return out, fmt.Errorf("count alert %s on %s: %w", a.GetId(), k.key, err)
		}
		stored[k.key] = ec
	}
	for _, k := range keys {
		msg := &adjoinv1.CorrelatedAlert{
			Alert: a, Resolutions: resolutions, EntityKey: k.key, CorrelatedTime: now,
			OtherSideAlertIds: otherSide(stored[k.key], a.GetSide()),
		}
		if err := c.Out.PublishCorrelated(ctx, EntitySubject(k.kind, k.key), msgID(a, k.key), msg); err != nil {
			return out, err
		}
		out.Entities = append(out.Entities, k.key)
	}
	return out, nil
}

type entityKey struct {
	key  string
	kind adjoinv1.EntityKind
}

// resolve resolves every reference and returns the distinct entities sorted by key (so the
// order of work is the same on every redelivery), and the link keys: the entities that join
// the alert to others in incidents, which leaves out targets (a domain controller is the
// target of most identity alerts).
func (c *Correlator) resolve(a *adjoinv1.Alert) ([]*adjoinv1.Resolution, []entityKey, []string) {
	var res []*adjoinv1.Resolution
	seen := map[string]adjoinv1.EntityKind{}
	linked := map[string]bool{}
	for i, ref := range a.GetEntities() {
		m := c.Index.Resolve(ref)
		if m.Entity == nil && ref.GetIp() != "" {
			m = c.resolveIP(ref.GetIp(), alertTime(a), m)
		}
		r := &adjoinv1.Resolution{RefIndex: int32(i), Tried: m.Tried}
		if m.Entity != nil {
			r.EntityKey, r.Kind, r.MatchedBy, r.MatchedValue, r.Certainty = m.Entity.GetKey(), m.Entity.GetKind(), m.By, m.Value, m.Certainty
			seen[r.EntityKey] = r.Kind
			if ref.GetRole() != adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
				linked[r.EntityKey] = true
			}
		}
		res = append(res, r)
	}
	keys := make([]entityKey, 0, len(seen))
	for k, kind := range seen {
		keys = append(keys, entityKey{k, kind})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	links := make([]string, 0, len(linked))
	for k := range linked {
		links = append(links, k)
	}
	sort.Strings(links)
	return res, keys, links
}

// resolveIP places an address on a host through recorded logons and connections, then
// resolves the host. The certainty is that of the claim times that of the name match.
func (c *Correlator) resolveIP(ip string, at time.Time, prev directory.Match) directory.Match {
	if c.Logons == nil {
		return prev
	}
	claim, ok := c.Logons.HostForIP(ip, at, c.Window)
	if !ok {
		return prev
	}
	m := c.Index.Resolve(hostRef(claim.Host))
	if m.Entity == nil {
		prev.Tried = append(prev.Tried, "ip-host:"+claim.Host)
		return prev
	}
	m.By = adjoinv1.MatchKey_MATCH_KEY_IP
	m.Value = ip + " -> " + claim.Host + " (" + claim.Evidence + ")"
	m.Certainty *= claim.Certainty
	m.Tried = prev.Tried
	return m
}

func hostRef(host string) *adjoinv1.EntityRef {
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, NetbiosName: host, DnsHostName: host}
}

// resolvable reports whether a reference carries a name or address the directory or the
// logons could still learn.
func resolvable(ref *adjoinv1.EntityRef) bool {
	return ref.GetSid() != "" || ref.GetObjectGuid() != "" || ref.GetSamAccountName() != "" || ref.GetUpn() != "" ||
		ref.GetDnsHostName() != "" || ref.GetNetbiosName() != "" || ref.GetIp() != ""
}

// otherSide lists the alerts of the other side counted on an entity, newest first.
func otherSide(ec *adjoinv1.EntityCounts, side adjoinv1.Side) []string {
	var other []*adjoinv1.CountedAlert
	for _, c := range ec.GetAlerts() {
		if c.GetSide() != side {
			other = append(other, c)
		}
	}
	sort.Slice(other, func(i, j int) bool {
		return other[i].GetLastActivity().AsTime().After(other[j].GetLastActivity().AsTime())
	})
	ids := make([]string, len(other))
	for i, c := range other {
		ids[i] = c.GetAlertId()
	}
	return ids
}

// cloudOnly returns why an alert takes no part in the on-prem join, or "" if it may.
func cloudOnly(a *adjoinv1.Alert) string {
	if len(a.GetEntities()) == 0 {
		return ""
	}
	for _, ref := range a.GetEntities() {
		cloud := ref.GetAadObjectId() != "" || ref.GetAadDeviceId() != "" || ref.GetCloudVmId() != ""
		// A UPN alone may still be an on-prem account the directory has not synced yet; with
		// an Azure AD id and nothing on-prem it is a cloud identity.
		onPrem := ref.GetSid() != "" || ref.GetObjectGuid() != "" || ref.GetSamAccountName() != "" ||
			ref.GetDnsHostName() != "" || ref.GetNetbiosName() != "" || ref.GetIp() != "" || (ref.GetUpn() != "" && !cloud)
		if onPrem {
			return ""
		}
	}
	return "cloud-only identities: no SID, objectGUID, account, UPN, host name or address to join on"
}

func alertTime(a *adjoinv1.Alert) time.Time {
	if t := a.GetFirstActivity(); t != nil {
		return t.AsTime()
	}
	return a.GetLastActivity().AsTime()
}

func (c *Correlator) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
