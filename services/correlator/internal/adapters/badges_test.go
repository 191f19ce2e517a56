package adapters_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// pgustavo's key in the Shire lab (services/adjoin/demo/theshire.ldif): no objectGUID, so the SID.
const pgustavo = "S-1-5-21-3669966080-2286457517-972388166-1104"

func alert(id string, version int64, status adjoinv1.AlertStatus) *adjoinv1.Alert {
	t0 := time.Date(2020, 8, 5, 6, 10, 2, 0, time.UTC)
	return &adjoinv1.Alert{
		Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Status: status, Version: version,
		FirstActivity: timestamppb.New(t0), LastActivity: timestamppb.New(t0.Add(time.Minute)),
	}
}

// stored reads and decodes an entity's counts; ok is false when the key does not exist.
func stored(t *testing.T, kv jetstream.KeyValue, key string) (ec *adjoinv1.EntityCounts, raw []byte, rev uint64, ok bool) {
	t.Helper()
	e, err := kv.Get(context.Background(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, 0, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	ec = &adjoinv1.EntityCounts{}
	if err := natsx.Decode(nil, e.Value(), ec); err != nil {
		t.Fatalf("decode %s: %v", key, err)
	}
	return ec, e.Value(), e.Revision(), true
}

// TestBadgeKVApplySequence applies alert versions one after the other to one entity and checks,
// after each, whether Apply reported a change, whether the stored record moved, and the counts.
func TestBadgeKVApplySequence(t *testing.T) {
	s := natstest.Start(t)
	kv := s.KV(t, natsx.BucketBadges)
	b := adapters.BadgeKV{KV: kv}
	ctx := context.Background()
	const (
		statusNew      = adjoinv1.AlertStatus_ALERT_STATUS_NEW
		statusResolved = adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	)
	steps := []struct {
		name                string
		alert               *adjoinv1.Alert
		want                bool // changed
		wantTotal, wantOpen int64
	}{
		{"first apply creates the record", alert("a1", 1, statusNew), true, 1, 1},
		{"same version again is a no-op", alert("a1", 1, statusNew), false, 1, 1},
		{"another alert adds one", alert("a2", 1, statusNew), true, 2, 2},
		{"newer version resolves without adding", alert("a1", 2, statusResolved), true, 2, 1},
		{"older version after a newer one is ignored", alert("a1", 1, statusNew), false, 2, 1},
		{"newer version reopens", alert("a1", 3, statusNew), true, 2, 2},
		{"version 0 counts as version 1", alert("a3", 0, statusNew), true, 3, 3},
		{"version 1 after version 0 is the same version", alert("a3", 1, statusResolved), false, 3, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			_, before, beforeRev, _ := stored(t, kv, pgustavo)
			_, got, err := b.Apply(ctx, pgustavo, st.alert, nil)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got != st.want {
				t.Errorf("changed = %v, want %v", got, st.want)
			}
			ec, after, afterRev, ok := stored(t, kv, pgustavo)
			if !ok {
				t.Fatal("no record stored")
			}
			if !st.want && (afterRev != beforeRev || !bytes.Equal(after, before)) {
				t.Errorf("unchanged apply rewrote the record: revision %d → %d", beforeRev, afterRev)
			}
			if st.want && afterRev == beforeRev {
				t.Errorf("changed apply kept revision %d", afterRev)
			}
			if ec.GetEntityKey() != pgustavo {
				t.Errorf("entity_key = %q, want %q", ec.GetEntityKey(), pgustavo)
			}
			sum := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY)
			if sum.GetTotal() != st.wantTotal || sum.GetOpen() != st.wantOpen {
				t.Errorf("total/open = %d/%d, want %d/%d", sum.GetTotal(), sum.GetOpen(), st.wantTotal, st.wantOpen)
			}
		})
	}
}

// TestBadgeKVApplyAfterDelete checks that a record deleted from the bucket (a delete marker, not
// a missing key) is recreated rather than failing the create-if-absent write forever.
func TestBadgeKVApplyAfterDelete(t *testing.T) {
	s := natstest.Start(t)
	kv := s.KV(t, natsx.BucketBadges)
	b := adapters.BadgeKV{KV: kv}
	ctx := context.Background()
	if _, _, err := b.Apply(ctx, pgustavo, alert("a1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW), nil); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, pgustavo); err != nil {
		t.Fatal(err)
	}
	_, changed, err := b.Apply(ctx, pgustavo, alert("a2", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW), nil)
	if err != nil || !changed {
		t.Fatalf("Apply after delete = %v, %v; want true, nil", changed, err)
	}
	ec, _, _, _ := stored(t, kv, pgustavo)
	if got := len(ec.GetAlerts()); got != 1 {
		t.Errorf("alerts after delete and apply = %d, want 1", got)
	}
}

func TestBadgeKVApplyErrors(t *testing.T) {
	s := natstest.Start(t)
	kv := s.KV(t, natsx.BucketBadges)
	b := adapters.BadgeKV{KV: kv}
	if _, err := kv.Put(context.Background(), "garbage", []byte("\xff\xff\xff not a protobuf")); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		wantErr error
	}{
		{"invalid key", context.Background(), "not a key", jetstream.ErrInvalidKey},
		{"canceled context", canceled, pgustavo, context.Canceled},
		{"undecodable stored record", context.Background(), "garbage", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, changed, err := b.Apply(tt.ctx, tt.key, alert("a1", 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW), nil)
			if err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if changed {
				t.Error("changed = true on error")
			}
		})
	}
	// The undecodable record must be left alone, not overwritten with a fresh set.
	e, err := kv.Get(context.Background(), "garbage")
	if err != nil || e.Revision() != 1 {
		t.Errorf("garbage record after failed Apply: revision %v, err %v; want untouched", e.Revision(), err)
	}
}

// TestBadgeKVConcurrentWriters is the no-lost-update half of exactly-once: writers on separate
// connections hammer one key, each alert is applied by two writers at once, and every alert
// still ends up counted exactly once.
func TestBadgeKVConcurrentWriters(t *testing.T) {
	const (
		writers = 8  // distinct alert sets
		copies  = 2  // writers applying each set at the same time
		perSet  = 50 // alerts per set
	)
	s := natstest.Start(t)
	kv := s.KV(t, natsx.BucketBadges)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var changedCount atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errc := make(chan error, writers*copies)
	for w := range writers * copies {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		wkv, err := js.KeyValue(ctx, natsx.BucketBadges)
		if err != nil {
			t.Fatal(err)
		}
		b := adapters.BadgeKV{KV: wkv}
		set := w % writers
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perSet {
				a := alert(fmt.Sprintf("set%02d-alert%03d", set, i), 1, adjoinv1.AlertStatus_ALERT_STATUS_NEW)
				_, changed, err := b.Apply(ctx, pgustavo, a, nil)
				if err != nil {
					errc <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				if changed {
					changedCount.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	ec, _, _, ok := stored(t, kv, pgustavo)
	if !ok {
		t.Fatal("no record stored")
	}
	const want = writers * perSet
	if got := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY).GetTotal(); got != want {
		t.Errorf("total = %d, want %d (lost or doubled updates)", got, want)
	}
	seen := map[string]bool{}
	for _, c := range ec.GetAlerts() {
		if seen[c.GetAlertId()] {
			t.Errorf("alert %s stored twice", c.GetAlertId())
		}
		seen[c.GetAlertId()] = true
	}
	if got := changedCount.Load(); got != want {
		t.Errorf("Apply reported %d changes, want %d: each alert must change the record exactly once", got, want)
	}
}
