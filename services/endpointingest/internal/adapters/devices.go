// Package adapters holds the endpoint ingestor's outgoing side: the device knowledge it keeps
// in the adjoin_devices bucket.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Devices records what the endpoint side knows: every computer that sends signals, and every
// user seen acting on one, is known from then on ("implicit" onboarding). Records go under the
// directory key when the directory resolves the name, else under a name key.
type Devices struct {
	KV    jetstream.KeyValue
	Index *directory.Index
	// Every bounds how often one record is rewritten for last-seen alone.
	Every time.Duration

	mu      sync.Mutex
	written map[string]time.Time // key -> last_seen last written
}

// Seen records the host of ev and, for Sysmon, the user it names.
func (d *Devices) Seen(ctx context.Context, ev *adjoinv1.Event) error {
	t := ev.GetTime().AsTime()
	host := detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_UNSPECIFIED)
	rec := &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: host.GetDnsHostName(), NetbiosName: host.GetNetbiosName()}
	if err := d.record(ctx, host, rec, entity.HostNameKey(ev.GetHost()), t); err != nil {
		return err
	}
	if !detection.IsSysmon(ev) {
		return nil
	}
	if user := detection.UserRef(ev.GetFields()["User"], adjoinv1.EntityRole_ENTITY_ROLE_UNSPECIFIED); user != nil {
		rec := &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Account: ev.GetFields()["User"]}
		return d.record(ctx, user, rec, entity.UserNameKey(user.GetDomain(), user.GetSamAccountName()), t)
	}
	return nil
}

func (d *Devices) record(ctx context.Context, ref *adjoinv1.EntityRef, rec *adjoinv1.DeviceRecord, nameKey string, seen time.Time) error {
	key := nameKey
	if m := d.Index.Resolve(ref); m.Entity != nil {
		key = m.Entity.GetKey()
		rec.Sid = m.Entity.GetSid()
	}
	if key == "" {
		return nil
	}
	d.mu.Lock()
	if d.written == nil {
		d.written = map[string]time.Time{}
	}
	last, ok := d.written[key]
	d.mu.Unlock()
	if ok && seen.Sub(last) < d.Every {
		return nil
	}
	rec.Key = key
	rec.OnboardingStatus = "implicit"
	rec.FirstSeen, rec.LastSeen = timestamppb.New(seen), timestamppb.New(seen)
	cur, err := d.KV.Get(ctx, key)
	switch {
	case err == nil:
		var old adjoinv1.DeviceRecord
		if natsx.Decode(nil, cur.Value(), &old) == nil {
			if old.GetFirstSeen() != nil && old.GetFirstSeen().AsTime().Before(seen) {
				rec.FirstSeen = old.GetFirstSeen()
			}
			if old.GetLastSeen() != nil && old.GetLastSeen().AsTime().After(seen) {
				rec.LastSeen = old.GetLastSeen()
			}
			if old.GetOnboardingStatus() != "" {
				rec.OnboardingStatus = old.GetOnboardingStatus()
			}
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("read device %s: %w", key, err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := d.KV.Put(ctx, key, data); err != nil {
		return fmt.Errorf("write device %s: %w", key, err)
	}
	d.mu.Lock()
	d.written[key] = rec.GetLastSeen().AsTime()
	d.mu.Unlock()
	return nil
}
