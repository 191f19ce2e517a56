package adapters

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// StatusImplicit is the onboarding status of a device known only because it sends signals.
// An inventory status (onboarded, can_be_onboarded, ...) replaces it; it never replaces one.
const StatusImplicit = "implicit"

// ErrNoName means an inventory record names no host, so it cannot be keyed.
var ErrNoName = errors.New("device record names no host")

// casAttempts bounds the read-merge-write retries on one key when writers race.
const casAttempts = 16

// Put stores a device inventory record (Defender for Endpoint's machine list) under the
// directory key of the host when the directory knows it, else under its host name key, merged
// with what is stored: the earliest first-seen and latest last-seen are kept; the inventory's
// onboarding status replaces "implicit"; and of two inventory records for one host (a stale
// copy, or duplicates of a reimaged machine) the one last seen latest wins, per DESIGN.md.
// Put returns once the server stored the record.
func (d *Devices) Put(ctx context.Context, rec *adjoinv1.DeviceRecord) error {
	in := proto.Clone(rec).(*adjoinv1.DeviceRecord)
	in.Kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
	key := entity.HostNameKey(cmp.Or(in.GetDnsHostName(), in.GetNetbiosName()))
	if d.Index != nil {
		ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: in.GetDnsHostName(), NetbiosName: in.GetNetbiosName()}
		if m := d.Index.Resolve(ref); m.Entity != nil && m.Entity.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
			key = m.Entity.GetKey()
			in.Sid = m.Entity.GetSid()
		}
	}
	if key == "" {
		return ErrNoName
	}
	in.Key = key
	_, err := d.update(ctx, key, func(old *adjoinv1.DeviceRecord) *adjoinv1.DeviceRecord { return mergeInventory(old, in) })
	return err
}

// mergeInventory merges an inventory record into the stored one (nil when none).
func mergeInventory(old, in *adjoinv1.DeviceRecord) *adjoinv1.DeviceRecord {
	out := proto.Clone(in).(*adjoinv1.DeviceRecord)
	if old == nil {
		return out
	}
	oldInventory := old.GetOnboardingStatus() != "" && old.GetOnboardingStatus() != StatusImplicit
	inWins := old.GetLastSeen() == nil || (in.GetLastSeen() != nil && !in.GetLastSeen().AsTime().Before(old.GetLastSeen().AsTime()))
	if oldInventory && !inWins {
		// A stale or duplicate record: the stored inventory facts stand.
		out.OnboardingStatus = old.GetOnboardingStatus()
		out.EdrDeviceId = cmp.Or(old.GetEdrDeviceId(), in.GetEdrDeviceId())
		out.DnsHostName = cmp.Or(old.GetDnsHostName(), in.GetDnsHostName())
		out.NetbiosName = cmp.Or(old.GetNetbiosName(), in.GetNetbiosName())
	} else {
		out.OnboardingStatus = cmp.Or(in.GetOnboardingStatus(), old.GetOnboardingStatus())
		out.EdrDeviceId = cmp.Or(in.GetEdrDeviceId(), old.GetEdrDeviceId())
		out.DnsHostName = cmp.Or(in.GetDnsHostName(), old.GetDnsHostName())
		out.NetbiosName = cmp.Or(in.GetNetbiosName(), old.GetNetbiosName())
	}
	out.Sid = cmp.Or(in.GetSid(), old.GetSid())
	out.FirstSeen = earliest(old.GetFirstSeen(), in.GetFirstSeen())
	out.LastSeen = latest(old.GetLastSeen(), in.GetLastSeen())
	return out
}

func earliest(a, b *timestamppb.Timestamp) *timestamppb.Timestamp {
	if a == nil || (b != nil && b.AsTime().Before(a.AsTime())) {
		return b
	}
	return a
}

func latest(a, b *timestamppb.Timestamp) *timestamppb.Timestamp {
	if a == nil || (b != nil && b.AsTime().After(a.AsTime())) {
		return b
	}
	return a
}

// update reads key, merges, and writes the result only if nobody wrote key in between
// (compare-and-set on the revision), retrying on a race: Seen and Put write the same keys
// from different goroutines, and a blind write could put "implicit" back over an inventory
// status. merge gets nil when the key is absent or unreadable and must not keep its argument.
func (d *Devices) update(ctx context.Context, key string, merge func(old *adjoinv1.DeviceRecord) *adjoinv1.DeviceRecord) (*adjoinv1.DeviceRecord, error) {
	for attempt := 1; ; attempt++ {
		var old *adjoinv1.DeviceRecord
		var rev uint64
		cur, err := d.KV.Get(ctx, key)
		switch {
		case err == nil:
			rev = cur.Revision()
			var o adjoinv1.DeviceRecord
			if natsx.Decode(nil, cur.Value(), &o) == nil {
				old = &o
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return nil, fmt.Errorf("read device %s: %w", key, err)
		}
		rec := merge(old)
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			_, err = d.KV.Create(ctx, key, data)
		} else {
			_, err = d.KV.Update(ctx, key, data, rev)
		}
		if err == nil {
			return rec, nil
		}
		conflict := errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
		if !conflict || attempt >= casAttempts {
			return nil, fmt.Errorf("write device %s: %w", key, err)
		}
		// Another writer won: back off a little, at random, so racing writers spread out.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("write device %s: %w", key, ctx.Err())
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(2*time.Millisecond)))):
		}
	}
}
