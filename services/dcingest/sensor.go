package dcingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/wire"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// SensorConfig is the DC traffic sensor (package wire): packets read from capture files
// (--pcap) or, live, from a network interface (--capture), decoded into network-channel
// events published on DC_EVENTS, where the detection consumer runs the network detectors on
// them like on any other event.
type SensorConfig struct {
	// Pcap lists capture files (pcap or pcapng) read once on start.
	Pcap string
	// Capture is a network interface decoded live (AF_PACKET; needs CAP_NET_RAW).
	Capture string
	// Name is the Host of the sensor's events (default: this machine's host name).
	Name string
	// RingMiB is the live capture's ring, where packets wait while the sensor is busy
	// (0: wire.DefaultRing; at least 2).
	RingMiB int
}

// minRingMiB and maxRingMiB bound --capture-ring: the ring is at least two 1 MiB blocks, and
// it is memory the kernel pins for the socket.
const minRingMiB, maxRingMiB = 2, 4096

// Flags defines the sensor settings on s.
func (c *SensorConfig) Flags(s *config.Set) {
	s.String(&c.Pcap, "pcap", "", wire.PcapUsage)
	s.String(&c.Capture, "capture", "", "network interface whose traffic the DC traffic sensor decodes live (AF_PACKET with a BPF filter for ports 88, 135, 389, 445, 636, 3268 and 49152-65535; needs CAP_NET_RAW)")
	s.Int(&c.RingMiB, "capture-ring", wire.DefaultRing>>20, "MiB of the live capture's ring, where packets wait while the sensor is busy; the kernel drops what does not fit (adjoin_sensor_total{counter=\"kernel_drops\"})")
	s.String(&c.Name, "sensor-name", "", "host name given to the DC traffic sensor's events (default: this machine's host name)")
}

// Validate names the first bad sensor setting.
func (c SensorConfig) Validate() error {
	for _, p := range config.SplitList(c.Pcap) {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
	}
	if c.Capture != "" {
		if _, err := net.InterfaceByName(c.Capture); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	if c.RingMiB != 0 && (c.RingMiB < minRingMiB || c.RingMiB > maxRingMiB) {
		return fmt.Errorf("capture-ring: %d MiB, want %d to %d (0: the default)", c.RingMiB, minRingMiB, maxRingMiB)
	}
	return nil
}

// sensorBatch is how many events are published before waiting for JetStream's acks.
const sensorBatch = 256

// sensorPublisher publishes the sensor's records as events and counts them.
type sensorPublisher struct {
	ctx    context.Context
	js     jetstream.JetStream
	host   string
	origin string
	batch  *natsx.Batch
	// every is how many events are published before waiting for their acks (sensorBatch
	// for files; 1 live, where the next record may be long in coming).
	every int
	err   error
}

// record publishes one record; the first failure stops publishing and is kept.
func (p *sensorPublisher) record(r wire.Record) {
	if p.err != nil {
		return
	}
	ev := r.Event(p.host)
	ev.Origin = p.origin
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		p.err = err
		return
	}
	ev.Id = entity.HashID("wire", string(b)) // the same capture read again is deduplicated
	msg, err := natsx.NewMsg(intake.EventSubject(natsx.SubjectDCEvents, ev), ev.Id, ev)
	if err == nil {
		err = p.batch.Add(msg)
	}
	if err == nil && p.batch.Len() >= max(p.every, 1) {
		_, err = p.batch.Wait(p.ctx)
	}
	p.err = err
}

// flush waits for what is still in flight.
func (p *sensorPublisher) flush() error {
	if p.err != nil {
		return p.err
	}
	_, err := p.batch.Wait(p.ctx)
	return err
}

// sensorCounts are where a sensor's counters go: the metrics (adjoin_sensor_total) and the
// service's heartbeat (as "sensor.<name>"), either of which may be nil.
type sensorCounts struct {
	metrics   *metrics.Metrics
	heartbeat *heartbeat.Counters
}

// add adds n to the sensor counter name.
func (c sensorCounts) add(name string, n uint64) {
	if c.metrics != nil {
		c.metrics.Sensor.WithLabelValues(name).Add(float64(n))
	}
	c.heartbeat.Add("sensor."+name, n)
}

// stats adds a sensor's counters.
func (c sensorCounts) stats(st wire.Stats) {
	for name, v := range map[string]uint64{"packets": st.Packets, "bytes": st.Bytes, "flows": st.Flows, "dropped_flows": st.DroppedFlows,
		"not_decoded": st.NotDecoded, "decode_errors": st.DecodeErrors, "records": st.Records} {
		c.add(name, v)
	}
}

// sensorHost is the Host of the sensor's events.
func sensorHost(cfg SensorConfig) string {
	if cfg.Name != "" {
		return cfg.Name
	}
	host, _ := os.Hostname()
	return host
}

// capture decodes --capture live until ctx ends, publishing each record as it comes and
// adding the counters to the metrics and the heartbeat every second.
func capture(ctx context.Context, live *wire.Live, cfg SensorConfig, js jetstream.JetStream, counts sensorCounts, log *zap.Logger) error {
	p := &sensorPublisher{ctx: ctx, js: js, host: sensorHost(cfg), origin: "capture:" + cfg.Capture, batch: natsx.NewBatchContext(ctx, js), every: 1}
	var prev wire.Stats
	var prevDrops uint64
	err := live.Run(ctx, wire.Config{}, p.record, time.Second, func(st wire.Stats, drops uint64) {
		counts.stats(wire.Stats{Packets: st.Packets - prev.Packets, Bytes: st.Bytes - prev.Bytes, Flows: st.Flows - prev.Flows,
			DroppedFlows: st.DroppedFlows - prev.DroppedFlows, NotDecoded: st.NotDecoded - prev.NotDecoded,
			DecodeErrors: st.DecodeErrors - prev.DecodeErrors, Records: st.Records - prev.Records})
		counts.add("kernel_drops", drops-prevDrops)
		prev, prevDrops = st, drops
	})
	if err == nil && p.err != nil && ctx.Err() == nil {
		err = p.err
	}
	log.Info("capture stopped", zap.String("interface", cfg.Capture), zap.Uint64("packets", prev.Packets), zap.Uint64("records", prev.Records),
		zap.Uint64("kernel_drops", prevDrops))
	return err
}

// readPcaps publishes the records of every --pcap file, adding its counters to the metrics
// and the heartbeat.
func readPcaps(ctx context.Context, cfg SensorConfig, js jetstream.JetStream, counts sensorCounts, log *zap.Logger) error {
	host := sensorHost(cfg)
	for _, path := range config.SplitList(cfg.Pcap) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		p := &sensorPublisher{ctx: ctx, js: js, host: host, origin: "pcap:" + filepath.Base(path), batch: natsx.NewBatchContext(ctx, js), every: sensorBatch}
		st, err := wire.ReadPcap(f, wire.Config{}, p.record)
		f.Close()
		counts.stats(st)
		if err = errors.Join(err, p.flush()); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while reading: the next start reads the file again, deduplicated
			}
			return fmt.Errorf("pcap %s: %w", path, err)
		}
		log.Info("capture read", zap.String("file", path), zap.Uint64("packets", st.Packets), zap.Uint64("records", st.Records),
			zap.Uint64("dropped_flows", st.DroppedFlows), zap.Uint64("decode_errors", st.DecodeErrors))
	}
	return nil
}
