// Package app is the correlator's first stage: resolve an alert's entities against the
// directory (and addresses against recorded logons) and hand it, for each entity it concerns,
// to the owner of the entity's COUNTS partition, which counts it and publishes it joined to
// the entity (ports.Counter). It also holds the incident builder's use case, what one batch of
// correlated alerts does to the incidents (IncidentBatch), which ports.IncidentBuilder feeds.
package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// Publication is one message the correlator stores: a COUNTS message for an entity's
// partition owner, or the CORRELATED copy of an alert that joined no entity.
type Publication struct {
	Subject, ID string
	Msg         *adjoinv1.CorrelatedAlert
	// AlertData, when set, is Msg.Alert as it was received (a valid encoding of it), so the
	// publisher need not marshal the alert again.
	AlertData []byte
}

// Publisher stores publications on their streams, deduplicated by ID. Publish returns once
// every one was acknowledged, or with the first failure (some may be stored then: publishing
// them again is harmless).
type Publisher interface {
	Publish(ctx context.Context, pubs []Publication) error
}

// Correlator resolves alerts to on-prem AD entities: stage 1 of the counting core. It counts
// nothing itself: for each entity an alert resolves to, it hands a COUNTS message to the
// owner of the entity's partition, which counts and publishes the correlated copy.
type Correlator struct {
	Index *directory.Index
	Out   Publisher
	// Partitions is the number of COUNTS partitions (0: natsx.DefaultPartitions).
	Partitions int
	// Logons places addresses on hosts; nil resolves no address.
	Logons *domain.Logons
	// Window bounds how far apart in time an address claim and an alert may be.
	Window time.Duration
	Now    func() time.Time
}

// Outcome says what Handle did with an alert, for logs and tests.
type Outcome struct {
	Entities   []string // keys the alert was handed to the counters for
	Excluded   string   // reason, when cloud-only
	Unresolved bool     // nothing resolved
	// Pending is true when a reference that could still resolve (a name or address the
	// directory or the logons may learn later) did not: the alert is worth handling again.
	Pending bool
}

// Handle correlates one alert: HandleBatch of one.
func (c *Correlator) Handle(ctx context.Context, a *adjoinv1.Alert) (Outcome, error) {
	outs, errs := c.HandleBatch(ctx, []*adjoinv1.Alert{a})
	return outs[0], errs[0]
}

// HandleBatch resolves every alert in memory, then publishes what they all ask for at once,
// pipelined, and returns once every publish was acknowledged. outs[i] and errs[i] are alert
// i's; an alert with an error must not be acknowledged (the caller retries it whole). When the
// batch's publishes fail together, each alert's are published again alone, so one alert that
// can never be stored fails alone. Handling an alert again is harmless: the publishes carry
// the same deduplication ids, and the counters apply each alert version once.
func (c *Correlator) HandleBatch(ctx context.Context, alerts []*adjoinv1.Alert) (outs []Outcome, errs []error) {
	return c.HandleReceived(ctx, alerts, nil)
}

// HandleReceived is HandleBatch of alerts decoded from data (data[i] is alerts[i]'s encoding,
// which the publications carry on; nil: none known).
func (c *Correlator) HandleReceived(ctx context.Context, alerts []*adjoinv1.Alert, data [][]byte) (outs []Outcome, errs []error) {
	outs, errs = make([]Outcome, len(alerts)), make([]error, len(alerts))
	pubs := make([][]Publication, len(alerts))
	var all []Publication
	for i, a := range alerts {
		outs[i], pubs[i] = c.Resolve(a)
		if i < len(data) {
			for j := range pubs[i] {
				pubs[i][j].AlertData = data[i]
			}
		}
		all = append(all, pubs[i]...)
	}
	if len(all) == 0 {
		return outs, errs
	}
	if err := c.Out.Publish(ctx, all); err == nil || len(alerts) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return outs, errs
	}
	for i, a := range alerts {
		if err := c.Out.Publish(ctx, pubs[i]); err != nil {
			errs[i] = fmt.Errorf("alert %s: %w", a.GetId(), err)
		}
	}
	return outs, errs
}

// Resolve resolves an alert's references and returns what it asks to publish: a COUNTS
// message per entity it resolved to, in key order (the same on every redelivery), or, when
// none resolved, its copy on correlated.unresolved or correlated.excluded.
func (c *Correlator) Resolve(a *adjoinv1.Alert) (Outcome, []Publication) {
	var out Outcome
	resolutions, keys := c.resolve(a)
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
		return out, []Publication{{Subject: subject, ID: msgID(a, ""), Msg: msg}}
	}
	pubs := make([]Publication, 0, len(keys))
	for _, k := range keys {
		msg := &adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolutions, EntityKey: k.key, CorrelatedTime: now}
		pubs = append(pubs, Publication{Subject: CountsSubject(k.kind, k.key, c.Partitions), ID: msgID(a, k.key), Msg: msg})
		out.Entities = append(out.Entities, k.key)
	}
	return out, pubs
}

type entityKey struct {
	key  string
	kind adjoinv1.EntityKind
}

// resolve resolves every reference and returns the distinct entities sorted by key, so the
// order of work is the same on every redelivery.
func (c *Correlator) resolve(a *adjoinv1.Alert) ([]*adjoinv1.Resolution, []entityKey) {
	var res []*adjoinv1.Resolution
	seen := map[string]adjoinv1.EntityKind{}
	for i, ref := range a.GetEntities() {
		m := c.Index.Resolve(ref)
		if m.Entity == nil && ref.GetIp() != "" {
			m = c.resolveIP(ref.GetIp(), alertTime(a), m)
		}
		r := &adjoinv1.Resolution{RefIndex: int32(i), Tried: m.Tried}
		if m.Entity != nil {
			r.EntityKey, r.Kind, r.MatchedBy, r.MatchedValue, r.Certainty = m.Entity.GetKey(), m.Entity.GetKind(), m.By, m.Value, m.Certainty
			seen[r.EntityKey] = r.Kind
		}
		res = append(res, r)
	}
	keys := make([]entityKey, 0, len(seen))
	for k, kind := range seen {
		keys = append(keys, entityKey{k, kind})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	return res, keys
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
