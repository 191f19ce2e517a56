package correlator

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// polled lists the consumers whose lag the metrics follow: ALERTS, each COUNTS partition,
// and the incident builder's.
func polled(cfg Config, builder string) []metrics.Consumer {
	cs := []metrics.Consumer{{Stream: natsx.StreamAlerts, Name: cfg.Durable}}
	for p := range cfg.Partitions {
		cs = append(cs, metrics.Consumer{Stream: natsx.StreamCounts, Name: natsx.CounterDurable(cfg.Durable, p)})
	}
	return append(cs, metrics.Consumer{Stream: natsx.StreamCorrelated, Name: builder})
}

// pollBuckets sets the gauges of entities counted and alerts pending from the buckets' sizes.
func pollBuckets(ctx context.Context, m *metrics.Metrics, badges, pending jetstream.KeyValue) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if st, err := badges.Status(ctx); err == nil {
			m.EntitiesCounted.Set(float64(st.Values()))
		}
		if st, err := pending.Status(ctx); err == nil {
			m.PendingAlerts.Set(float64(st.Values()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
