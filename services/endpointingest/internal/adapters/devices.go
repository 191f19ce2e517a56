// Package adapters holds the endpoint ingestor's outgoing side: the device knowledge it keeps
// in the adjoin_devices bucket.
package adapters

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
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
	rec.OnboardingStatus = StatusImplicit
	rec.FirstSeen, rec.LastSeen = timestamppb.New(seen), timestamppb.New(seen)
	// Compare-and-set (update, in inventory.go): a concurrent inventory Put must not be
	// overwritten by "implicit", and what only the inventory knows (EDR id, names) is kept.
	stored, err := d.update(ctx, key, func(old *adjoinv1.DeviceRecord) *adjoinv1.DeviceRecord {
		out := proto.Clone(rec).(*adjoinv1.DeviceRecord)
		if old == nil {
			return out
		}
		if old.GetFirstSeen() != nil && old.GetFirstSeen().AsTime().Before(seen) {
			out.FirstSeen = old.GetFirstSeen()
		}
		if old.GetLastSeen() != nil && old.GetLastSeen().AsTime().After(seen) {
			out.LastSeen = old.GetLastSeen()
		}
		if old.GetOnboardingStatus() != "" {
			out.OnboardingStatus = old.GetOnboardingStatus()
		}
		out.EdrDeviceId = cmp.Or(out.GetEdrDeviceId(), old.GetEdrDeviceId())
		out.DnsHostName = cmp.Or(out.GetDnsHostName(), old.GetDnsHostName())
		out.NetbiosName = cmp.Or(out.GetNetbiosName(), old.GetNetbiosName())
		out.Sid = cmp.Or(out.GetSid(), old.GetSid())
		return out
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	if len(d.written) >= maxWritten {
		clear(d.written)
	}
	d.written[key] = stored.GetLastSeen().AsTime()
	d.mu.Unlock()
	return nil
}

// maxWritten bounds the last-written memory: input naming millions of hosts must not grow it
// without end, and forgetting it only costs one more write per record.
const maxWritten = 100_000
