package adapters

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// WORKSTATION6 of the OTRF Shire lab (shared/data).
const sidWS6 = "S-1-5-21-3669966080-2286457517-972388166-1112"

func shireIndex() *directory.Index {
	ix := directory.NewIndex()
	ix.Put(&adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: sidWS6, SamAccountName: "WORKSTATION6$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local",
		DnsHostName: "WORKSTATION6.theshire.local", NetbiosName: "WORKSTATION6",
	})
	return ix
}

func newDevices(t *testing.T) *Devices {
	t.Helper()
	s := natstest.Start(t)
	return &Devices{KV: s.KV(t, natsx.BucketDevices), Index: shireIndex()}
}

func at(s string) *timestamppb.Timestamp {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t)
}

// machine is an inventory record as productalert.FromMachines makes it.
func machine(dns, nb, id, status, first, last string) *adjoinv1.DeviceRecord {
	return &adjoinv1.DeviceRecord{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: dns, NetbiosName: nb,
		EdrDeviceId: id, OnboardingStatus: status, FirstSeen: at(first), LastSeen: at(last),
	}
}

func stored(t *testing.T, d *Devices, key string) *adjoinv1.DeviceRecord {
	t.Helper()
	e, err := d.KV.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	var rec adjoinv1.DeviceRecord
	if err := natsx.Decode(nil, e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return &rec
}

func same(t *testing.T, want, got *adjoinv1.DeviceRecord) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Errorf("stored\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
	}
}

func TestPutKnownHostUnderSID(t *testing.T) {
	t.Parallel()
	d := newDevices(t)
	ctx := context.Background()
	in := machine("workstation6.theshire.local", "WORKSTATION6", "111e6d", "can_be_onboarded", "2020-08-01T00:00:00Z", "2020-10-18T00:00:00Z")
	if err := d.Put(ctx, in); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(in).(*adjoinv1.DeviceRecord)
	want.Key, want.Sid = sidWS6, sidWS6
	same(t, want, stored(t, d, sidWS6))
	if in.GetKey() != "" {
		t.Error("Put changed its argument")
	}
}

func TestPutUnknownHostUnderName(t *testing.T) {
	t.Parallel()
	d := newDevices(t)
	in := machine("workstation9.theshire.local", "WORKSTATION9", "999", "onboarded", "2020-08-01T00:00:00Z", "2020-10-18T00:00:00Z")
	if err := d.Put(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(in).(*adjoinv1.DeviceRecord)
	want.Key = "host.workstation9.theshire.local"
	same(t, want, stored(t, d, want.Key))
}

// Signals seen after the inventory move last-seen but keep the inventory's status and EDR id,
// whether they are first or last.
func TestPutThenSeenKeepsInventoryStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := func(ts string) *adjoinv1.Event {
		return &adjoinv1.Event{Host: "WORKSTATION6.theshire.local", Time: at(ts)}
	}
	tests := []struct {
		name     string
		steps    []func(d *Devices) error
		wantSeen [2]string
	}{
		{"inventory then signal", []func(d *Devices) error{
			func(d *Devices) error {
				return d.Put(ctx, machine("workstation6.theshire.local", "WORKSTATION6", "111e6d", "can_be_onboarded", "2020-08-01T00:00:00Z", "2020-10-18T00:00:00Z"))
			},
			func(d *Devices) error { return d.Seen(ctx, ev("2020-10-19T00:00:00Z")) },
		}, [2]string{"2020-08-01T00:00:00Z", "2020-10-19T00:00:00Z"}},
		{"signal then inventory", []func(d *Devices) error{
			func(d *Devices) error { return d.Seen(ctx, ev("2020-07-01T00:00:00Z")) },
			func(d *Devices) error {
				return d.Put(ctx, machine("workstation6.theshire.local", "WORKSTATION6", "111e6d", "can_be_onboarded", "2020-08-01T00:00:00Z", "2020-10-18T00:00:00Z"))
			},
			func(d *Devices) error { return d.Seen(ctx, ev("2020-10-19T00:00:00Z")) },
		}, [2]string{"2020-07-01T00:00:00Z", "2020-10-19T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDevices(t)
			for _, step := range tt.steps {
				if err := step(d); err != nil {
					t.Fatal(err)
				}
			}
			got := stored(t, d, sidWS6)
			if got.GetOnboardingStatus() != "can_be_onboarded" || got.GetEdrDeviceId() != "111e6d" {
				t.Errorf("status %q, EDR id %q; want can_be_onboarded, 111e6d", got.GetOnboardingStatus(), got.GetEdrDeviceId())
			}
			if !proto.Equal(got.GetFirstSeen(), at(tt.wantSeen[0])) || !proto.Equal(got.GetLastSeen(), at(tt.wantSeen[1])) {
				t.Errorf("seen %v .. %v, want %v", got.GetFirstSeen().AsTime(), got.GetLastSeen().AsTime(), tt.wantSeen)
			}
		})
	}
}

// Of duplicate or stale inventory records for one host, the one last seen latest wins.
func TestPutStaleDuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fresh := machine("workstation6.theshire.local", "WORKSTATION6", "new-id", "onboarded", "2020-09-01T00:00:00Z", "2020-10-18T00:00:00Z")
	stale := machine("workstation6.theshire.local", "WORKSTATION6", "old-id", "insufficient_info", "2019-01-01T00:00:00Z", "2020-03-01T00:00:00Z")
	tests := []struct {
		name  string
		order []*adjoinv1.DeviceRecord
	}{
		{"stale after fresh", []*adjoinv1.DeviceRecord{fresh, stale}},
		{"fresh after stale", []*adjoinv1.DeviceRecord{stale, fresh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDevices(t)
			for _, rec := range tt.order {
				if err := d.Put(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			want := proto.Clone(fresh).(*adjoinv1.DeviceRecord)
			want.Key, want.Sid = sidWS6, sidWS6
			want.FirstSeen = stale.GetFirstSeen() // the earliest first-seen is kept
			same(t, want, stored(t, d, sidWS6))
		})
	}
}

// Racing writers do not lose the inventory status: every write is compare-and-set.
func TestPutSeenConcurrent(t *testing.T) {
	t.Parallel()
	d := newDevices(t)
	ctx := context.Background()
	base := at("2020-10-19T00:00:00Z").AsTime()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- d.Seen(ctx, &adjoinv1.Event{Host: "WORKSTATION6", Time: timestamppb.New(base.Add(time.Duration(i) * time.Second))})
		}()
		go func() {
			defer wg.Done()
			errs <- d.Put(ctx, machine("workstation6.theshire.local", "WORKSTATION6", "111e6d", "unsupported", "2020-08-01T00:00:00Z", "2020-10-18T00:00:00Z"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, d, sidWS6).GetOnboardingStatus(); got != "unsupported" {
		t.Errorf("status %q after racing writes, want unsupported", got)
	}
}
