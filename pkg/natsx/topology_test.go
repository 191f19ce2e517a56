package natsx_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// streamMsgs is how many messages stream name holds.
func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	return testkit.StreamMsgs(t, js, name)
}

func TestNewTopologyMatchesContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		replicas     int
		wantReplicas int
	}{
		{name: "single server", replicas: 1, wantReplicas: 1},
		{name: "cluster", replicas: 3, wantReplicas: 3},
		{name: "zero means one", replicas: 0, wantReplicas: 1},
		{name: "negative means one", replicas: -2, wantReplicas: 1},
	}
	wantStreams := map[string][]string{
		natsx.StreamDCEvents:       {"events.dc.>"},
		natsx.StreamEndpointEvents: {"events.endpoint.>"},
		natsx.StreamAlerts:         {"alerts.identity.>", "alerts.endpoint.>"},
		natsx.StreamCorrelated:     {"correlated.user.*", "correlated.computer.*", "correlated.excluded", "correlated.unresolved"},
		natsx.StreamIncidents:      {"incidents.*"},
		natsx.StreamDeadLetter:     {"deadletter.>"},
	}
	wantBuckets := []string{"adjoin_directory", "adjoin_devices", "adjoin_badges", "adjoin_config", "adjoin_status"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			top := natsx.NewTopology(tt.replicas)
			// Every stream and bucket of the DESIGN.md table is there; the topology may hold
			// more (services add their own state), all with the same replicas and storage.
			streams := map[string][]string{}
			for _, s := range top.Streams {
				streams[s.Name] = s.Subjects
				if s.Replicas != tt.wantReplicas || s.Storage != jetstream.FileStorage || s.Duplicates <= 0 {
					t.Errorf("stream %s: replicas %d storage %s duplicates %s", s.Name, s.Replicas, s.Storage, s.Duplicates)
				}
			}
			for name, want := range wantStreams {
				if got, ok := streams[name]; !ok || !slices.Equal(got, want) {
					t.Errorf("stream %s subjects %q (present %v), want %q", name, got, ok, want)
				}
			}
			var buckets []string
			for _, b := range top.Buckets {
				buckets = append(buckets, b.Bucket)
				if b.Replicas != tt.wantReplicas || b.Storage != jetstream.FileStorage {
					t.Errorf("bucket %s: replicas %d storage %s", b.Bucket, b.Replicas, b.Storage)
				}
			}
			for _, want := range wantBuckets {
				if !slices.Contains(buckets, want) {
					t.Errorf("bucket %s missing from %q", want, buckets)
				}
			}
		})
	}
}

// Provision runs on every `adjoin provision` (each Compose start) and `adjoin dev`: running
// it again must keep all data.
func TestProvisionIsIdempotentAndNeverWipes(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)

	alert := &adjoinv1.Alert{Id: "a1", Side: adjoinv1.Side_SIDE_IDENTITY, Source: "test"}
	if _, err := natsx.Publish(ctx, srv.JS, natsx.SubjectIdentityAlerts+".dcsync", "a1", alert); err != nil {
		t.Fatal(err)
	}
	cfg := srv.KV(t, natsx.BucketConfig)
	if _, err := cfg.Put(ctx, "toggle.identity", []byte("on")); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := natsx.Provision(ctx, srv.JS, natsx.NewTopology(1)); err != nil {
			t.Fatalf("Provision again: %v", err)
		}
	}
	if n := streamMsgs(t, srv.JS, natsx.StreamAlerts); n != 1 {
		t.Errorf("ALERTS holds %d messages after Provision, want 1", n)
	}
	e, err := srv.KV(t, natsx.BucketConfig).Get(ctx, "toggle.identity")
	if err != nil {
		t.Fatalf("KV key after Provision: %v", err)
	}
	if string(e.Value()) != "on" {
		t.Errorf("KV value = %q, want on", e.Value())
	}
	if err := natsx.Check(ctx, srv.JS, natsx.NewTopology(1)); err != nil {
		t.Errorf("Check after Provision: %v", err)
	}
}

func TestProvisionUpdatesInPlace(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	if _, err := natsx.Publish(ctx, srv.JS, natsx.SubjectDeadLetter+".test.x", "d1", &adjoinv1.Alert{Id: "d1"}); err != nil {
		t.Fatal(err)
	}

	top := natsx.NewTopology(1)
	for i := range top.Streams {
		if top.Streams[i].Name == natsx.StreamDeadLetter {
			top.Streams[i].MaxAge = 90 * 24 * time.Hour
			top.Streams[i].Description = "kept a quarter"
		}
	}
	for i := range top.Buckets {
		if top.Buckets[i].Bucket == natsx.BucketConfig {
			top.Buckets[i].History = 10
		}
	}
	if err := natsx.Provision(ctx, srv.JS, top); err != nil {
		t.Fatalf("Provision with a changed setting: %v", err)
	}

	s, err := srv.JS.Stream(ctx, natsx.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 90*24*time.Hour || info.Config.Description != "kept a quarter" {
		t.Errorf("DEADLETTER MaxAge %s description %q, want the updated values", info.Config.MaxAge, info.Config.Description)
	}
	if info.State.Msgs != 1 {
		t.Errorf("DEADLETTER holds %d messages after the update, want 1", info.State.Msgs)
	}
	st, err := srv.KV(t, natsx.BucketConfig).Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 10 {
		t.Errorf("adjoin_config history = %d, want 10", st.History())
	}
}

func TestCheckReportsMissing(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	if err := natsx.Check(ctx, srv.JS, natsx.NewTopology(1)); err != nil {
		t.Fatalf("Check on a provisioned server: %v", err)
	}

	if err := srv.JS.DeleteStream(ctx, natsx.StreamIncidents); err != nil {
		t.Fatal(err)
	}
	err := natsx.Check(ctx, srv.JS, natsx.NewTopology(1))
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("Check with INCIDENTS missing = %v, want ErrStreamNotFound", err)
	}
	if !strings.Contains(err.Error(), natsx.StreamIncidents) {
		t.Errorf("Check error %q does not name the stream %s", err, natsx.StreamIncidents)
	}

	// Provision brings it back; a missing bucket is named too.
	if err := natsx.Provision(ctx, srv.JS, natsx.NewTopology(1)); err != nil {
		t.Fatal(err)
	}
	if err := srv.JS.DeleteKeyValue(ctx, natsx.BucketStatus); err != nil {
		t.Fatal(err)
	}
	err = natsx.Check(ctx, srv.JS, natsx.NewTopology(1))
	if !errors.Is(err, jetstream.ErrBucketNotFound) || !strings.Contains(err.Error(), natsx.BucketStatus) {
		t.Fatalf("Check with adjoin_status missing = %v, want ErrBucketNotFound naming the bucket", err)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	ready := natsx.Ready(srv.NC, srv.JS, 1)
	if err := ready(ctx); err != nil {
		t.Fatalf("Ready on a provisioned server: %v", err)
	}
	if err := srv.JS.DeleteStream(ctx, natsx.StreamCorrelated); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx); err == nil || !strings.Contains(err.Error(), natsx.StreamCorrelated) {
		t.Errorf("Ready with CORRELATED missing = %v, want an error naming it", err)
	}
	srv.NC.Close()
	if err := ready(ctx); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Errorf("Ready after Close = %v, want a not-connected error", err)
	}
}
