package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigOnly(t *testing.T) {
	t.Parallel()
	minimal := []string{"adjoin", "bench-minimal-server"}
	tests := []struct {
		name      string
		only      []string
		minimal   []string
		wantErr   string // a part of the error; empty for none
		wantRuns  []string
		wantSyncs []string
	}{
		{name: "all", minimal: minimal, wantRuns: Phases, wantSyncs: []string{SyncAlways, SyncDefault}},
		{name: "memory and getbadge: the first sync mode only", only: []string{PhaseMemory, PhaseGetBadge}, minimal: minimal,
			wantRuns: []string{PhaseMemory, PhaseGetBadge}, wantSyncs: []string{SyncAlways}},
		{name: "e2e: every sync mode", only: []string{PhaseE2E}, wantRuns: []string{PhaseE2E}, wantSyncs: []string{SyncAlways, SyncDefault}},
		{name: "raw: every sync mode", only: []string{PhaseRaw}, wantRuns: []string{PhaseRaw}, wantSyncs: []string{SyncAlways, SyncDefault}},
		{name: "unknown phase", only: []string{"memory", "latency"}, minimal: minimal, wantErr: `only: "latency"`},
		{name: "getbadge without the minimal server's command", only: []string{PhaseGetBadge}, wantErr: "minimal gRPC server"},
		{name: "all without the minimal server's command", wantErr: "minimal gRPC server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Config{Only: tt.only, MinimalServer: tt.minimal, DataDir: "data"}.Defaults()
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			var runs []string
			for _, p := range Phases {
				if c.runs(p) {
					runs = append(runs, p)
				}
			}
			if !sameSet(runs, tt.wantRuns) {
				t.Errorf("phases run: %v, want %v", runs, tt.wantRuns)
			}
			if got := c.syncs(); !slices.Equal(got, tt.wantSyncs) {
				t.Errorf("syncs() = %v, want %v", got, tt.wantSyncs)
			}
		})
	}
}

func TestConfigDataDirOnlyForIngest(t *testing.T) {
	t.Parallel()
	c := Config{Only: []string{PhaseMemory}}.Defaults()
	if err := c.Validate(); err != nil {
		t.Errorf("memory only, no data directory: %v", err)
	}
	c = Config{Only: []string{PhaseIngest}}.Defaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "data") {
		t.Errorf("ingest, no data directory: %v, want the data error", err)
	}
}

func TestScaleOf(t *testing.T) {
	t.Parallel()
	size := func(n int, perSec, withIncidents float64) SizeResult {
		return SizeResult{Entities: n, AlertsPerSec: perSec, WithIncidentsPerSec: withIncidents}
	}
	tests := []struct {
		name  string
		sizes []SizeResult
		want  *ScaleResult
	}{
		{name: "one size", sizes: []SizeResult{size(10_000, 700, 500)}},
		{name: "no throughput measured", sizes: []SizeResult{size(10_000, 0, 0), size(1_000_000, 0, 0)}},
		{name: "largest over smallest", sizes: []SizeResult{size(10_000, 800, 500), size(100_000, 1, 1), size(1_000_000, 600, 550)},
			want: &ScaleResult{FromEntities: 10_000, ToEntities: 1_000_000, AlertsPerSecRatio: 0.75, WithIncidentsRatio: 1.1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scaleOf(tt.sizes)
			if (got == nil) != (tt.want == nil) || (got != nil && (got.FromEntities != tt.want.FromEntities || got.ToEntities != tt.want.ToEntities ||
				!near(got.AlertsPerSecRatio, tt.want.AlertsPerSecRatio) || !near(got.WithIncidentsRatio, tt.want.WithIncidentsRatio))) {
				t.Errorf("scaleOf() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The defaults run the server as docker-compose.yml does and alert the same users at every
// size; -1 asks for the runtime's GC and the old spread, anything lower is refused by name.
func TestConfigServerGOGCAndActiveUsers(t *testing.T) {
	t.Parallel()
	c := Config{Only: []string{PhaseE2E}}.Defaults()
	if c.ServerGOGC != DefaultServerGOGC || c.ActiveUsers != DefaultActiveUsers {
		t.Fatalf("defaults: server GOGC %d, active users %d; want %d, %d", c.ServerGOGC, c.ActiveUsers, DefaultServerGOGC, DefaultActiveUsers)
	}
	for _, tt := range []struct {
		gogc, active int
		wantErr      string
	}{
		{-1, -1, ""},
		{-2, 5, "server-gogc: -2"},
		{100, -3, "active-users: -3"},
	} {
		c := Config{Only: []string{PhaseE2E}, ServerGOGC: tt.gogc, ActiveUsers: tt.active}.Defaults()
		err := c.Validate()
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("server GOGC %d, active users %d: Validate() = %v, want %q", tt.gogc, tt.active, err, tt.wantErr)
		}
	}
}

// Three pairs of scale rounds by default; a count the phase cannot run, or one that would keep
// it for hours, is refused by name.
func TestConfigScalePairs(t *testing.T) {
	t.Parallel()
	if c := (Config{Only: []string{PhaseScale}}).Defaults(); c.ScalePairs != 3 || c.Validate() != nil {
		t.Fatalf("defaults: %d pairs, Validate() = %v; want 3, nil", c.ScalePairs, c.Validate())
	}
	for _, pairs := range []int{-1, 21} {
		c := Config{Only: []string{PhaseScale}, ScalePairs: pairs}.Defaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "scale-pairs") {
			t.Errorf("%d pairs: Validate() = %v, want the scale-pairs error", pairs, err)
		}
	}
}
