package adapters_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

func TestToggleKey(t *testing.T) {
	tests := []struct {
		side adjoinv1.Side
		want string
	}{
		{adjoinv1.Side_SIDE_IDENTITY, "integration.identity"},
		{adjoinv1.Side_SIDE_ENDPOINT, "integration.endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.side.String(), func(t *testing.T) {
			if got := app.ToggleKey(tt.side); got != tt.want {
				t.Errorf("ToggleKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKVStore(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	store := adapters.KVStore{Badges: s.KV(t, natsx.BucketBadges), Devices: s.KV(t, natsx.BucketDevices), Config: s.KV(t, natsx.BucketConfig)}

	t.Run("missing records are not errors", func(t *testing.T) {
		ec, ok, err := store.Counts(ctx, "S-1-5-21-1-2-3-4")
		if err != nil || ok || ec.GetEntityKey() != "S-1-5-21-1-2-3-4" || len(ec.GetAlerts()) != 0 {
			t.Errorf("Counts = %v, %v, %v; want empty, false, nil", ec, ok, err)
		}
		if _, ok, err := store.Device(ctx, "host.nowhere"); err != nil || ok {
			t.Errorf("Device = %v, %v; want false, nil", ok, err)
		}
	})

	t.Run("stored records are decoded", func(t *testing.T) {
		rec := &adjoinv1.DeviceRecord{Key: "host.workstation6.theshire.local", OnboardingStatus: "implicit"}
		data, _ := proto.Marshal(rec)
		if _, err := store.Devices.Put(ctx, rec.Key, data); err != nil {
			t.Fatal(err)
		}
		got, ok, err := store.Device(ctx, rec.Key)
		if err != nil || !ok || !proto.Equal(got, rec) {
			t.Errorf("Device = %v, %v, %v; want %v", got, ok, err, rec)
		}
	})

	tests := []struct {
		name  string
		value *string // nil: key absent
		want  bool
	}{
		{"absent means on", nil, true},
		{"on", ptr("on"), true},
		{"off", ptr("off"), false},
		{"off with whitespace", ptr(" off\n"), false},
	}
	for _, tt := range tests {
		t.Run("toggle "+tt.name, func(t *testing.T) {
			key := app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT)
			if tt.value == nil {
				if err := store.Config.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
			} else if _, err := store.Config.PutString(ctx, key, *tt.value); err != nil {
				t.Fatal(err)
			}
			got, err := store.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_ENDPOINT)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("IntegrationEnabled = %v, want %v", got, tt.want)
			}
			if id, err := store.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_IDENTITY); err != nil || !id {
				t.Errorf("identity toggle = %v, %v; want true (never written)", id, err)
			}
		})
	}
}

func ptr(s string) *string { return &s }
