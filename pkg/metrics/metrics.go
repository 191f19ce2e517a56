// Package metrics defines every Prometheus metric adjoin exports, in one place, so names and
// labels are the same in every service and the table of docs/configuration.md can be checked against them.
// All four services of `adjoin dev` share one Metrics; the service label tells them apart.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Metrics is the set of adjoin's metrics on one registry.
type Metrics struct {
	Registry *prometheus.Registry

	EventsReceived  *prometheus.CounterVec   // service, format
	EventsRejected  *prometheus.CounterVec   // service, reason
	LinesSkipped    *prometheus.CounterVec   // service
	AlertsPublished *prometheus.CounterVec   // service, detector, side
	DeadLetters     *prometheus.CounterVec   // service, reason
	PublishSeconds  *prometheus.HistogramVec // service
	PublishInFlight *prometheus.GaugeVec     // service
	// IntakeUnauthorized counts HTTP intake requests refused for want of a valid credential.
	IntakeUnauthorized *prometheus.CounterVec // service, reason

	ConsumerPending     *prometheus.GaugeVec // service, consumer
	ConsumerAckPending  *prometheus.GaugeVec // service, consumer
	ConsumerRedelivered *prometheus.GaugeVec // service, consumer

	CorrelateSeconds prometheus.Histogram
	AlertToBadgeLag  prometheus.Histogram
	EntitiesCounted  prometheus.Gauge
	PendingAlerts    prometheus.Gauge
	AlertsCorrelated *prometheus.CounterVec // outcome

	// The correlator's partition owners (stage 2 of counting).
	CounterPartitions  prometheus.Gauge
	CounterFolded      prometheus.Counter
	CounterSnapshots   prometheus.Counter
	CounterLoadSeconds prometheus.Histogram
	CounterHeld        prometheus.Gauge
	CounterUnheld      prometheus.Counter

	GRPCRequests *prometheus.CounterVec   // method, code
	GRPCSeconds  *prometheus.HistogramVec // method

	// The status page's facts, set by the badge service from the same reads as
	// GetIntegrationStatus, so `adjoin status` and the metrics never disagree.
	SideEvents         *prometheus.GaugeVec // side
	SideAlerts         *prometheus.GaugeVec // side
	SideLastData       *prometheus.GaugeVec // side
	IntegrationEnabled *prometheus.GaugeVec // side
	AlertsWaiting      prometheus.Gauge
	AlertLag           prometheus.Gauge
	ServiceLastSeen    *prometheus.GaugeVec // service, instance

	DirectoryObjects    *prometheus.GaugeVec // kind
	DirectorySyncTime   prometheus.Gauge
	DirectorySyncErrors prometheus.Counter
	// DirectorySyncSeconds times successful LDAP syncs, by kind (full, incremental).
	DirectorySyncSeconds *prometheus.HistogramVec

	// Sensor counts what the DC traffic sensor read, decoded and could not follow, by
	// counter (packets, bytes, flows, dropped_flows, not_decoded, decode_errors, records,
	// kernel_drops).
	Sensor *prometheus.CounterVec
}

// Def describes one metric for documentation.
type Def struct {
	Name, Type, Labels, Help string
}

// New returns the metrics registered on a fresh registry, with the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{r}
	return &Metrics{
		Registry:             r,
		EventsReceived:       f.counterVec("adjoin_events_received_total", "Events accepted by an ingestor and stored on its event stream.", "service", "format"),
		EventsRejected:       f.counterVec("adjoin_events_rejected_total", "Input lines refused by an ingestor (copied to DEADLETTER).", "service", "reason"),
		LinesSkipped:         f.counterVec("adjoin_lines_skipped_total", "Input lines that carry no event by design (a Samba log's own messages), skipped.", "service"),
		AlertsPublished:      f.counterVec("adjoin_alerts_published_total", "Alert versions stored on ALERTS.", "service", "detector", "side"),
		DeadLetters:          f.counterVec("adjoin_deadletters_total", "Messages copied to DEADLETTER.", "service", "reason"),
		PublishSeconds:       f.histogramVec("adjoin_jetstream_publish_seconds", "Time from publish to JetStream acknowledgement, per batch.", "service"),
		PublishInFlight:      f.gaugeVec("adjoin_jetstream_publish_inflight", "Publishes waiting for a JetStream acknowledgement.", "service"),
		IntakeUnauthorized:   f.counterVec("adjoin_intake_unauthorized_total", "HTTP intake requests refused with 401 (missing-token, invalid-token) before their body was read.", "service", "reason"),
		ConsumerPending:      f.gaugeVec("adjoin_consumer_pending", "Messages not yet delivered to a durable consumer.", "service", "consumer"),
		ConsumerAckPending:   f.gaugeVec("adjoin_consumer_ack_pending", "Messages delivered to a durable consumer and not yet acknowledged.", "service", "consumer"),
		ConsumerRedelivered:  f.gaugeVec("adjoin_consumer_redelivered", "Messages a durable consumer has redelivered at least once.", "service", "consumer"),
		CorrelateSeconds:     f.histogram("adjoin_correlator_processing_seconds", "Time to correlate one alert (resolve, count, publish)."),
		AlertToBadgeLag:      f.histogram("adjoin_alert_to_badge_lag_seconds", "Time from an alert's arrival on ALERTS to its counts being written."),
		EntitiesCounted:      f.gauge("adjoin_correlator_entities", "Entities the correlator has counted alerts on (adjoin_badges keys)."),
		PendingAlerts:        f.gauge("adjoin_correlator_pending_alerts", "Alerts waiting for a reference to resolve (adjoin_pending keys)."),
		AlertsCorrelated:     f.counterVec("adjoin_alerts_correlated_total", "Alerts handled by the correlator, by outcome.", "outcome"),
		CounterPartitions:    f.gauge("adjoin_counter_partitions_owned", "COUNTS partitions this process owns (their counting state is loaded)."),
		CounterFolded:        f.counter("adjoin_counter_folded_total", "COUNTS messages folded into a partition's counting state (redeliveries included)."),
		CounterSnapshots:     f.counter("adjoin_counter_snapshots_total", "Partition state snapshots written to adjoin_counter."),
		CounterLoadSeconds:   f.histogram("adjoin_counter_load_seconds", "Time to load a partition's counting state on becoming its owner (snapshot or seed, then replay)."),
		CounterHeld:          f.gauge("adjoin_counter_alerts_held", "Alerts the owned partitions hold state for (in full or as tombstones), as of their last snapshots; each partition holds at most --max-held."),
		CounterUnheld:        f.counter("adjoin_counter_alerts_unheld_total", "Alerts counted without their state because a partition held --max-held alerts: a later version of one may be counted twice."),
		GRPCRequests:         f.counterVec("adjoin_grpc_requests_total", "gRPC requests served, by method and status code.", "method", "code"),
		GRPCSeconds:          f.histogramVec("adjoin_grpc_request_seconds", "gRPC request latency (to the end of the stream for streams).", "method"),
		SideEvents:           f.gaugeVec("adjoin_side_events", "Events stored on a side's event stream (status page).", "side"),
		SideAlerts:           f.gaugeVec("adjoin_side_alerts", "Alerts of a side stored on ALERTS (status page).", "side"),
		SideLastData:         f.gaugeVec("adjoin_side_last_data_timestamp_seconds", "Unix time a side's ingestor last stored an event (status page).", "side"),
		IntegrationEnabled:   f.gaugeVec("adjoin_integration_enabled", "1 while a side's integration toggle is on.", "side"),
		AlertsWaiting:        f.gauge("adjoin_alerts_waiting", "Alerts stored on ALERTS and not yet counted by the correlator (status page)."),
		AlertLag:             f.gauge("adjoin_alert_lag_seconds", "Age of the oldest waiting alert, or the last alert's time to correlation when idle (status page)."),
		ServiceLastSeen:      f.gaugeVec("adjoin_service_last_seen_timestamp_seconds", "Unix time of a service instance's last heartbeat.", "service", "instance"),
		DirectoryObjects:     f.gaugeVec("adjoin_directory_objects", "Directory entities known, by kind.", "kind"),
		DirectorySyncTime:    f.gauge("adjoin_directory_last_sync_timestamp_seconds", "Unix time of the last successful directory import or sync."),
		DirectorySyncErrors:  f.counter("adjoin_directory_sync_errors_total", "Directory imports or syncs that failed."),
		DirectorySyncSeconds: f.histogramVec("adjoin_directory_sync_seconds", "Time to read and store one successful LDAP directory sync, by kind (full, incremental).", "kind"),
		Sensor:               f.counterVec("adjoin_sensor_total", "DC traffic sensor counters: packets, bytes, flows, dropped_flows (connections not followed, over the bound), not_decoded, decode_errors, records, kernel_drops (live capture).", "counter"),
	}
}

// Handler serves the registry in the Prometheus text format; nil metrics serve nothing.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return nil
	}
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Defs lists every adjoin metric, for the reference in docs/configuration.md.
func Defs() []Def {
	New()
	defsMu.Lock()
	defer defsMu.Unlock()
	return append([]Def(nil), defs...)
}

var (
	defsMu sync.Mutex
	defs   []Def
)

type factory struct{ r *prometheus.Registry }

func (f factory) note(name, typ, help string, labels ...string) {
	defsMu.Lock()
	defer defsMu.Unlock()
	for _, d := range defs {
		if d.Name == name {
			return
		}
	}
	l := ""
	for i, x := range labels {
		if i > 0 {
			l += ", "
		}
		l += x
	}
	defs = append(defs, Def{Name: name, Type: typ, Labels: l, Help: help})
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	f.note(name, "counter", help, labels...)
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) counter(name, help string) prometheus.Counter {
	f.note(name, "counter", help)
	v := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(v)
	return v
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	f.note(name, "gauge", help, labels...)
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	f.note(name, "gauge", help)
	v := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.r.MustRegister(v)
	return v
}

var buckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func (f factory) histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	f.note(name, "histogram", help, labels...)
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) histogram(name, help string) prometheus.Histogram {
	f.note(name, "histogram", help)
	v := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(v)
	return v
}

// SetStatus copies the status page's facts into the gauges.
func (m *Metrics) SetStatus(st *adjoinv1.GetIntegrationStatusResponse) {
	if m == nil || st == nil {
		return
	}
	for _, side := range []*adjoinv1.SideStatus{st.GetIdentity(), st.GetEndpoint()} {
		name := "identity"
		if side.GetSide() == adjoinv1.Side_SIDE_ENDPOINT {
			name = "endpoint"
		}
		m.SideEvents.WithLabelValues(name).Set(float64(side.GetEvents()))
		m.SideAlerts.WithLabelValues(name).Set(float64(side.GetAlerts()))
		if t := side.GetLastDataReceived(); t != nil {
			m.SideLastData.WithLabelValues(name).Set(float64(t.AsTime().Unix()))
		}
		on := 0.0
		if side.GetEnabled() {
			on = 1
		}
		m.IntegrationEnabled.WithLabelValues(name).Set(on)
	}
	m.AlertsWaiting.Set(float64(st.GetAlertsWaiting()))
	m.AlertLag.Set(st.GetLagSeconds())
	for _, hb := range st.GetServices() {
		m.ServiceLastSeen.WithLabelValues(hb.GetService(), hb.GetInstance()).Set(float64(hb.GetLastSeen().AsTime().Unix()))
	}
}
