package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Report is every figure of one run, with what it was measured on. Written as JSON it is
// what runs on different commits are compared by.
type Report struct {
	Machine
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// OtherCPUShare is the share of the machine's CPU that other processes used during the
	// run (0 to 1); each measurement has its own too. Figures measured beside other work are
	// lower and noisier than on an idle machine.
	OtherCPUShare float64 `json:"other_cpu_share"`
	Quick         bool    `json:"quick"`
	// ServerGOGC is the GC percent the harness's process, and so the JetStream server, ran
	// with (Config.ServerGOGC; -1: the runtime's).
	ServerGOGC int `json:"server_gogc"`
	// AlertsPerSize is how many alerts each size's throughput phase pushed through (fixed,
	// not one per entity, so that each size takes a bounded time).
	AlertsPerSize int            `json:"alerts_per_size"`
	Runs          []SyncRun      `json:"runs"`
	Ingest        []IngestResult `json:"ingest"`
	Sensor        *SensorResult  `json:"sensor,omitempty"`
	GetBadge      []BadgeResult  `json:"get_badge"`
	Memory        *MemoryResult  `json:"memory,omitempty"`
	Growth        *GrowthResult  `json:"growth,omitempty"`
	// Only lists the phases the run was limited to (--only); absent when it ran them all.
	Only []string `json:"only,omitempty"`
}

// SyncRun is the figures that depend on the server's sync mode.
type SyncRun struct {
	Sync string `json:"sync"`
	// SyncInterval is the NATS server's sync_interval: "always", or the default interval.
	SyncInterval string       `json:"sync_interval"`
	Raw          RawResult    `json:"raw"`
	Floor        FloorResult  `json:"floor"`
	Sizes        []SizeResult `json:"sizes"`
	// Scale is the throughput at the largest size over that at the smallest, when the
	// end-to-end phase ran at two sizes or more.
	Scale *ScaleResult `json:"scale,omitempty"`
	// Paired is the same ratio measured side by side (PairedScale), when the scale phase ran
	// at two sizes or more.
	Paired *PairedScale `json:"paired_scale,omitempty"`
}

// WriteJSON writes the report, indented, to file.
func (r *Report) WriteJSON(file string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// WriteTable prints the machine and one markdown table of every figure, with the baseline
// measured in the same run beside each adjoin figure and their ratio.
func (r *Report) WriteTable(w io.Writer) {
	commit := r.Commit
	if commit == "" {
		commit = "unknown"
	}
	gogc := "the runtime's GOGC"
	if r.ServerGOGC > 0 {
		gogc = fmt.Sprintf("GOGC=%d", r.ServerGOGC)
	}
	fmt.Fprintf(w, "adjoin bench: %s, %d cores; %s, nats-server %s (embedded, file storage, %s); commit %s; %s, took %s\n",
		r.CPU, r.Cores, r.GoVersion, r.NATSServer, gogc, commit, r.Started.UTC().Format(time.RFC3339), time.Duration(r.Seconds*float64(time.Second)).Round(time.Second))
	if len(r.Only) > 0 {
		fmt.Fprintf(w, "Only the phases %s.\n", strings.Join(r.Only, ", "))
	}
	fmt.Fprintln(w, "End to end: the adjoin-correlator and adjoin-badge binaries, each its own process, on this server.")
	if r.endToEnd() {
		fmt.Fprintf(w, "Per size %s alerts (not one per user, on the same number of users at every size) published at once, then a load paced at half the rate sustained with incidents,\n"+
			"whose alerts (each on a user of its own) are timed from the publish call to the badge update arriving on WatchBadges.\n",
			thousands(float64(r.AlertsPerSize)))
	}
	fmt.Fprintf(w, "Other load: the share of the machine's CPU that other processes used while a figure was measured (%.0f%% over the run).\n\n",
		100*r.OtherCPUShare)
	fmt.Fprintln(w, "| what | adjoin | baseline in the same run | ratio | other load |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	row := func(what, adjoin, baseline string, ratio, other float64) {
		rs, load := "", ""
		if ratio > 0 {
			rs = fmt.Sprintf("%.2f", ratio)
		}
		if other >= 0 {
			load = fmt.Sprintf("%.0f%%", 100*other)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", what, adjoin, baseline, rs, load)
	}
	for _, run := range r.Runs {
		raw := run.Raw
		if raw.Messages > 0 {
			row(fmt.Sprintf("raw JetStream, sync %s: async publish, then pull fetch + ack, %s msgs of %d B", run.SyncInterval, thousands(float64(raw.Messages)), raw.MsgBytes),
				"", fmt.Sprintf("publish %s/s, consume %s/s, both %s msgs/s", thousands(raw.PublishPerSec), thousands(raw.ConsumePerSec), thousands(raw.RoundTripPerSec)), 0, raw.OtherCPUShare)
		}
		if f := run.Floor; f.Messages > 0 {
			row(fmt.Sprintf("the contract's floor, sync %s: ALERTS → COUNTS → CORRELATED + record, batches of 512, no adjoin code, %s alerts", run.SyncInterval, thousands(float64(f.Messages))),
				fmt.Sprintf("%s alerts/s", thousands(f.AlertsPerSec)), fmt.Sprintf("raw publish + consume: %s msgs/s", thousands(raw.RoundTripPerSec)), f.Ratio, f.OtherCPUShare)
		}
		for _, s := range run.Sizes {
			if s.AlertsPerSec <= 0 { // the end-to-end phase did not run (--only)
				row(fmt.Sprintf("directory grown to %s users, then services ready (from process start), sync %s", thousands(float64(s.Entities)), run.SyncInterval),
					fmt.Sprintf("load %.1f s; ready: correlator %.1f s, badge %.1f s; %s", s.LoadSeconds, s.CorrelatorReadySeconds, s.BadgeReadySeconds, s.ReadyCPU), "", 0, -1)
				continue
			}
			row(fmt.Sprintf("alerts → correlator → badge, %s users, alerts on %s, sync %s", thousands(float64(s.Entities)), activeUsers(s.ActiveUsers), run.SyncInterval),
				fmt.Sprintf("%s alerts/s (%s/s with incidents); %s", thousands(s.AlertsPerSec), thousands(s.WithIncidentsPerSec), s.CPU),
				fmt.Sprintf("raw publish + consume: %s msgs/s", thousands(raw.RoundTripPerSec)), s.Ratio, s.OtherCPUShare)
			row(fmt.Sprintf("publish → badge update at %s alerts/s, %s users, sync %s", thousands(s.LatencyLoadPerSec), thousands(float64(s.Entities)), run.SyncInterval),
				fmt.Sprintf("p50 %s ms, p99 %s ms (%d samples)", ms(s.LatencyP50Ms), ms(s.LatencyP99Ms), s.LatencySamples), "", 0, s.OtherCPUShare)
			row(fmt.Sprintf("directory grown to %s users (async KV puts, default sync, once for every mode), then services ready, sync %s", thousands(float64(s.Entities)), run.SyncInterval),
				fmt.Sprintf("load %.1f s; ready: correlator %.1f s, badge %.1f s", s.LoadSeconds, s.CorrelatorReadySeconds, s.BadgeReadySeconds), "", 0, -1)
		}
		for _, s := range run.Sizes {
			if rs := s.Restart; rs != nil {
				row(fmt.Sprintf("%s users: directory snapshot written, then services started again from it, sync %s", thousands(float64(s.Entities)), run.SyncInterval),
					fmt.Sprintf("snapshot %.1f s, %s; ready: correlator %.1f s, badge %.1f s; %s", rs.SnapshotSeconds, mib(int64(rs.SnapshotBytes)),
						rs.CorrelatorReadySeconds, rs.BadgeReadySeconds, rs.ReadyCPU), "", 0, -1)
			}
		}
		if sc := run.Scale; sc != nil {
			from, to := run.Sizes[0], run.Sizes[len(run.Sizes)-1]
			row(fmt.Sprintf("correlator throughput at %s users over %s users, sync %s", thousands(float64(sc.ToEntities)), thousands(float64(sc.FromEntities)), run.SyncInterval),
				fmt.Sprintf("%s alerts/s (%s/s with incidents; ratio %.2f); CPU per alert over that at %s users: correlator %.2f, server %.2f",
					thousands(to.AlertsPerSec), thousands(to.WithIncidentsPerSec), sc.WithIncidentsRatio, thousands(float64(sc.FromEntities)), sc.CorrelatorCPURatio, sc.ServerCPURatio),
				fmt.Sprintf("%s users: %s alerts/s (%s/s with incidents)", thousands(float64(sc.FromEntities)), thousands(from.AlertsPerSec), thousands(from.WithIncidentsPerSec)),
				sc.AlertsPerSecRatio, -1)
		}
		if p := run.Paired; p != nil {
			row(fmt.Sprintf("correlator throughput at %s users over %s users side by side: two servers, %d pairs of rounds of %s alerts on each, sync %s",
				thousands(float64(p.ToEntities)), thousands(float64(p.FromEntities)), p.Pairs, thousands(float64(p.AlertsPerRound)), run.SyncInterval),
				fmt.Sprintf("%s alerts/s (median; rounds' ratios %s; with incidents %.2f); correlator CPU per alert over that at %s users %.2f",
					thousands(p.ToAlertsPerSec), ratios(p.AlertsPerSecRatios), p.WithIncidentsRatio, thousands(float64(p.FromEntities)), p.CorrelatorCPURatio),
				fmt.Sprintf("%s users: %s alerts/s (median)", thousands(float64(p.FromEntities)), thousands(p.FromAlertsPerSec)),
				p.AlertsPerSecRatio, p.OtherCPUShare)
		}
	}
	if g := r.Growth; g != nil {
		row(fmt.Sprintf("growth: %s alerts on ONE user, each counted (ratio: over the same number spread over %s users), sync %s", thousands(float64(g.Alerts)), thousands(float64(g.SpreadUsers)), g.Sync),
			fmt.Sprintf("%s alerts/s; its record %s B", thousands(g.OneUserPerSec), thousands(float64(g.RecordBytes))),
			fmt.Sprintf("%s alerts over %s users: %s alerts/s", thousands(float64(g.Alerts)), thousands(float64(g.SpreadUsers)), thousands(g.SpreadPerSec)), g.Ratio, g.OtherCPUShare)
	}
	for _, in := range r.Ingest {
		row(fmt.Sprintf("parse + detect, %s, %s events of %d recordings, one core", in.Ingestor, thousands(float64(in.Events)), in.Files),
			thousands(in.EventsPerSec)+" events/s", "encoding/json decode: "+thousands(in.JSONPerSec)+" lines/s", in.Ratio, in.OtherCPUShare)
	}
	if sn := r.Sensor; sn != nil {
		row(fmt.Sprintf("DC traffic sensor decode (reassembly + Kerberos/SMB2/DCE-RPC/LDAP), %s (%s packets, %d records), one core", sn.File, thousands(float64(sn.Packets)), sn.Records),
			thousands(sn.PacketsPerSec)+" packets/s", "gopacket alone (pcapgo + NewPacketSource): "+thousands(sn.GopacketPerSec)+" packets/s", sn.Ratio, sn.OtherCPUShare)
	}
	for _, b := range r.GetBadge {
		row(fmt.Sprintf("GetBadge, concurrency %d, %s users (ratio: QPS over the minimal server's own process; p99 ratio likewise)", b.Concurrency, thousands(float64(b.Entities))),
			fmt.Sprintf("%s/s, p50 %s ms, p99 %s ms (p99 ratio %.2f)", thousands(b.QPS), ms(b.P50Ms), ms(b.P99Ms), b.ProcessP99Ratio),
			fmt.Sprintf("minimal gRPC server, same answer, own process: %s/s, p50 %s ms, p99 %s ms; in the harness's process: %s/s, p50 %s ms, p99 %s ms (ratio %.2f)",
				thousands(b.ProcessQPS), ms(b.ProcessP50Ms), ms(b.ProcessP99Ms), thousands(b.MinimalQPS), ms(b.MinimalP50Ms), ms(b.MinimalP99Ms), b.QPSRatio),
			b.ProcessQPSRatio, b.OtherCPUShare)
	}
	if m := r.Memory; m != nil && m.Entities > 0 {
		for _, p := range []struct {
			name string
			m    ProcMemory
		}{{"adjoin-correlator", m.Correlator}, {"adjoin-badge", m.Badge}} {
			row(fmt.Sprintf("resident memory per entity, %s process, %s users: (VmRSS once ready and settled − VmRSS on an empty directory) / users", p.name, thousands(float64(m.Entities))),
				fmt.Sprintf("%s B (VmRSS %s on an empty directory → %s loaded, peak %s); ready %.1f s after start", thousands(p.m.PerEntityBytes),
					mib(p.m.BeforeBytes), mib(p.m.AfterBytes), mib(p.m.PeakBytes), p.m.ReadySeconds), "", 0, -1)
		}
	}
}

// endToEnd tells whether the end-to-end phase ran: a size with a throughput.
func (r *Report) endToEnd() bool {
	for _, run := range r.Runs {
		for _, s := range run.Sizes {
			if s.AlertsPerSec > 0 {
				return true
			}
		}
	}
	return false
}

// thousands formats a rate or count rounded to an integer, with thousands separators.
func thousands(f float64) string {
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ms formats milliseconds with two significant digits below 10.
func ms(f float64) string {
	if f < 10 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 0, 64)
}
