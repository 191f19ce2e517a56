package badge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestServedAnswersEqualBuiltOnes drives a real badge service through a sequence of changes
// and, after each, waits (bounded) until every badge it serves, by GetBadge and by
// BatchGetBadges, equals the badge built the old way: app.Badges without a cache, reading the
// buckets themselves and a directory index loaded afresh. Every badge is asked for before each
// change, so each change lands on cached answers: one left stale never matches.
func TestServedAnswersEqualBuiltOnes(t *testing.T) {
	const identityLink = "https://itdr.example/entities/{sid}"
	h := startBadge(t, func(c *badge.Config) { c.IdentityLink = identityLink })
	ctx := rpcCtx(t)
	sbeavers := shireUser(keySbeavers, "sbeavers", "Beavers Stevie", false)
	alerts := &adjoinv1.EntityCounts{EntityKey: keySbeavers}
	for i, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT, adjoinv1.Side_SIDE_ENDPOINT} {
		alerts.Alerts = append(alerts.Alerts, &adjoinv1.CountedAlert{AlertId: fmt.Sprint("a", i), Side: side,
			Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1,
			FirstActivity: at(i, 0), LastActivity: at(i, 30)})
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"as loaded", func(*testing.T) {}},
		{"record written", func(t *testing.T) { h.put(t, h.badges, keySbeavers, alerts) }},
		{"device known under its key", func(t *testing.T) {
			h.put(t, h.devices, keyWS6, &adjoinv1.DeviceRecord{Key: keyWS6, Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER,
				OnboardingStatus: "onboarded", EdrDeviceId: "dev-ws6"})
		}},
		{"device known under a name", func(t *testing.T) {
			h.put(t, h.devices, entity.NameKeys(sbeavers)[0], &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER,
				Account: `THESHIRE\sbeavers`, OnboardingStatus: "can_be_onboarded"})
		}},
		{"endpoint toggle off", func(t *testing.T) { h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "off") }},
		{"endpoint toggle on", func(t *testing.T) { h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "on") }},
		{"link template changed", func(t *testing.T) {
			h.putConfig(t, app.LinkKey(adjoinv1.Side_SIDE_ENDPOINT), "https://edr.example/machines/{deviceId}")
			h.putConfig(t, app.LinkKey(adjoinv1.Side_SIDE_IDENTITY), "https://itdr.example/users/{sam}")
		}},
		{"record updated", func(t *testing.T) {
			alerts.Alerts[1].Status = adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
			h.put(t, h.badges, keySbeavers, alerts)
		}},
		{"directory entry renamed", func(t *testing.T) {
			renamed := proto.Clone(sbeavers).(*adjoinv1.Entity)
			renamed.SamAccountName, renamed.Upn = "stevie", "stevie@theshire.local"
			h.put(t, h.directory, keySbeavers, renamed)
		}},
		{"device under the old name removed", func(t *testing.T) {
			if err := h.devices.Delete(ctx, entity.NameKeys(sbeavers)[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory entry deleted", func(t *testing.T) {
			if err := h.directory.Delete(ctx, keyWS6); err != nil {
				t.Fatal(err)
			}
		}},
		{"record removed", func(t *testing.T) {
			if err := h.badges.Delete(ctx, keySbeavers); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, step := range steps {
		step.change(t)
		testkit.Eventually(t, 10*time.Second, func() error { return h.servedEqualBuilt(t, identityLink) })
	}
}

// servedEqualBuilt compares what the service serves for every Shire key with what app.Badges
// builds without a cache from the buckets as they are now.
func (h *harness) servedEqualBuilt(t *testing.T, identityLink string) error {
	t.Helper()
	ctx := rpcCtx(t)
	ix, err := loadIndex(ctx, h.directory)
	if err != nil {
		return err
	}
	store := adapters.KVStore{Badges: h.badges, Devices: h.devices, Config: h.config}
	built := &app.Badges{Index: ix, Store: store, Links: app.Links{Identity: identityLink,
		Override: func(side adjoinv1.Side) (string, bool) {
			e, err := h.config.Get(ctx, app.LinkKey(side))
			if err != nil {
				return "", false
			}
			return string(e.Value()), true
		}}}
	var sels []*adjoinv1.EntitySelector
	for _, key := range shireKeys() {
		sels = append(sels, &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: key}})
	}
	sels = append(sels, byQuery(`THESHIRE\stevie`), byQuery("sbeavers@theshire.local"))
	batch, err := h.client.BatchGetBadges(ctx, &adjoinv1.BatchGetBadgesRequest{Selectors: sels})
	if err != nil {
		return fmt.Errorf("BatchGetBadges: %w", err)
	}
	for i, sel := range sels {
		want, wantErr := built.Get(ctx, sel)
		wantCode := status.Code(wantErr)
		switch {
		case errors.Is(wantErr, app.ErrNotFound):
			wantCode = codes.NotFound
		case wantErr != nil:
			return fmt.Errorf("built %v: %w", sel, wantErr)
		}
		got, err := h.get(t, sel)
		if code := status.Code(err); code != wantCode || !proto.Equal(got, want) {
			return fmt.Errorf("GetBadge(%v) = %v, %v\nbuilt: %v, %v", sel, got, code, want, wantCode)
		}
		res := batch.GetResults()[i]
		if code := codes.Code(res.GetError().GetCode()); code != wantCode || !proto.Equal(res.GetBadge(), want) {
			return fmt.Errorf("BatchGetBadges[%d] (%v) = %v\nbuilt: %v, %v", i, sel, res, want, wantCode)
		}
	}
	return nil
}

// loadIndex reads the directory bucket into a new index.
func loadIndex(ctx context.Context, kv jetstream.KeyValue) (*directory.Index, error) {
	ix := directory.NewIndex()
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		var ent adjoinv1.Entity
		if err := natsx.Decode(nil, e.Value(), &ent); err != nil {
			return nil, err
		}
		ix.Put(&ent)
	}
	return ix, nil
}
