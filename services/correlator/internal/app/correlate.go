// Package app is the correlator's use case: resolve an alert's entities against the directory,
// count it on each entity it concerns, and publish it joined to each of them.
package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Counter applies an alert version to one entity's counts and reports whether they changed.
// Implementations must make Apply idempotent and safe against concurrent writers.
type Counter interface {
	Apply(ctx context.Context, entityKey string, a *adjoinv1.Alert) (changed bool, err error)
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
	Now     func() time.Time
}

// Outcome says what Handle did with an alert, for logs and tests.
type Outcome struct {
	Entities   []string // keys the alert was counted on
	Excluded   string   // reason, when cloud-only
	Unresolved bool
}

// Handle correlates one alert. It is safe to call again with the same alert: counts do not
// move and the publishes carry the same deduplication ids. An error means nothing may be
// acknowledged; the caller retries the whole alert.
func (c *Correlator) Handle(ctx context.Context, a *adjoinv1.Alert) (Outcome, error) {
	var out Outcome
	resolutions, keys := c.resolve(a)
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
	for _, k := range keys {
		if _, err := c.Counter.Apply(ctx, k.key, a); err != nil {
			return out, fmt.Errorf("count alert %s on %s: %w", a.GetId(), k.key, err)
		}
		msg := &adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolutions, EntityKey: k.key, CorrelatedTime: now}
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

// resolve resolves every reference and returns the distinct entities, sorted by key so the
// order of work is the same on every redelivery.
func (c *Correlator) resolve(a *adjoinv1.Alert) ([]*adjoinv1.Resolution, []entityKey) {
	var res []*adjoinv1.Resolution
	seen := map[string]adjoinv1.EntityKind{}
	for i, ref := range a.GetEntities() {
		m := c.Index.Resolve(ref)
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

func (c *Correlator) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
