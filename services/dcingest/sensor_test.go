package dcingest_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

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
