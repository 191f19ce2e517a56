package dcingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/entity"
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
	// Name is the Host of the sensor's events (default: this machine's host name).
	Name string
}

// Flags defines the sensor settings on s.
func (c *SensorConfig) Flags(s *config.Set) {
	s.String(&c.Pcap, "pcap", "", "comma-separated packet captures (pcap or pcapng) of domain controller traffic, decoded by the DC traffic sensor and published on DC_EVENTS once on start")
	s.String(&c.Name, "sensor-name", "", "host name given to the DC traffic sensor's events (default: this machine's host name)")
}

// Validate names the first bad sensor setting.
func (c SensorConfig) Validate() error {
	for _, p := range config.SplitList(c.Pcap) {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
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
	err    error
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
	if err == nil && p.batch.Len() >= sensorBatch {
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

// countSensor adds a sensor's counters to the metrics.
func countSensor(m *metrics.Metrics, st wire.Stats) {
	if m == nil {
		return
	}
	for name, v := range map[string]uint64{"packets": st.Packets, "bytes": st.Bytes, "flows": st.Flows, "dropped_flows": st.DroppedFlows,
		"not_decoded": st.NotDecoded, "decode_errors": st.DecodeErrors, "records": st.Records} {
		m.Sensor.WithLabelValues(name).Add(float64(v))
	}
}

// readPcaps publishes the records of every --pcap file.
func readPcaps(ctx context.Context, cfg SensorConfig, js jetstream.JetStream, m *metrics.Metrics, log *zap.Logger) error {
	host := cfg.Name
	if host == "" {
		host, _ = os.Hostname()
	}
	for _, path := range config.SplitList(cfg.Pcap) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		p := &sensorPublisher{ctx: ctx, js: js, host: host, origin: "pcap:" + filepath.Base(path), batch: natsx.NewBatchContext(ctx, js)}
		st, err := wire.ReadPcap(f, wire.Config{}, p.record)
		f.Close()
		countSensor(m, st)
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
