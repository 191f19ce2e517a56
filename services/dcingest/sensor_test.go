package dcingest_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestPcapSensor runs the service with --pcap on the S1 DCSync capture and the S3 Rubeus
// capture: DC_EVENTS gets their network events (9 and 2 records), the detection consumer
// raises the DCSync (replication from a non-DC address) and the overpass-the-hash alerts, and
// a restart that reads the same files again stores nothing new (the ids are deterministic).
func TestPcapSensor(t *testing.T) {
	s := natstest.Start(t)
	dir := filepath.Join("..", "..", "..", "shared", "data", "otrf", "pcap")
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.ShutdownGrace = s.ClientURL(), time.Second
	cfg.DCAddresses = "172.18.38.5"
	cfg.Sensor = dcingest.SensorConfig{Name: "mordordc-sensor", Pcap: filepath.Join(dir, "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap") +
		"," + filepath.Join(dir, "empire_shell_rubeus_asktgt_ptt_2020-09-21223848.cap")}
	if err := cfg.Sensor.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{"wire-overpass-the-hash", "zeek-drsuapi-replication"}
	runUntil(t, cfg, func() bool {
		return streamCount(t, s.JS, natsx.StreamDCEvents) == 11 && slices.Equal(alertDetectors(t, s.JS), want)
	})
	cfg.Metrics = metrics.New()
	runUntil(t, cfg, func() bool {
		return testutil.ToFloat64(cfg.Metrics.Sensor.WithLabelValues("records")) == 11 &&
			testutil.ToFloat64(cfg.Metrics.Sensor.WithLabelValues("packets")) == 377+249
	})
	// The service's last heartbeat carries the sensor's counters of that run.
	if got := sensorCounters(t, s.JS); got["sensor.packets"] != 377+249 || got["sensor.records"] != 11 || len(got) != 7 {
		t.Errorf("heartbeat counters %v, want sensor.packets=626, sensor.records=11 and the 7 counters of wire.Stats", got)
	}
	if n := streamCount(t, s.JS, natsx.StreamDCEvents); n != 11 {
		t.Errorf("DC_EVENTS holds %d after reading the captures again, want 11", n)
	}
	if got := alertDetectors(t, s.JS); !slices.Equal(got, want) {
		t.Errorf("alerts from %v, want %v", got, want)
	}
	bad := dcingest.DefaultConfig()
	bad.Sensor.Pcap = filepath.Join(dir, "no-such.cap")
	if err := bad.Sensor.Validate(); err == nil {
		t.Error("a missing --pcap file passed Validate")
	}
}

// sensorCounters returns the "sensor." counters of the DC ingestor's heartbeat in
// adjoin_status (one instance: the tests run it in this process).
func sensorCounters(t *testing.T, js jetstream.JetStream) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		t.Fatal(err)
	}
	hbs, err := heartbeat.List(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, hb := range hbs {
		if hb.GetService() != dcingest.Name {
			continue
		}
		for _, c := range hb.GetCounters() {
			if strings.HasPrefix(c.GetName(), "sensor.") {
				out[c.GetName()] = c.GetValue()
			}
		}
	}
	return out
}
