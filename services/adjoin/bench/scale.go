package bench

// ScaleResult compares the correlator's throughput at the largest directory size of a sync
// mode with that at the smallest: whether a bigger directory slows the join down. A ratio of
// 1 or more is no slower.
type ScaleResult struct {
	FromEntities int `json:"from_entities"`
	ToEntities   int `json:"to_entities"`
	// AlertsPerSecRatio is alerts/s at ToEntities over alerts/s at FromEntities, and
	// WithIncidentsRatio the same with the incident builder waited for.
	AlertsPerSecRatio  float64 `json:"alerts_per_s_ratio"`
	WithIncidentsRatio float64 `json:"alerts_per_s_with_incidents_ratio"`
	// CorrelatorCPURatio is the correlator's CPU per alert at ToEntities over that at
	// FromEntities, and ServerCPURatio the same for the harness's process (the JetStream
	// server): at most 1 when a size costs no more work per alert. On a machine the processes
	// share, throughput follows their sum.
	CorrelatorCPURatio float64 `json:"correlator_cpu_ratio"`
	ServerCPURatio     float64 `json:"server_cpu_ratio"`
}

// scaleOf is the largest size over the smallest of sizes (ascending, as measured); nil with
// fewer than two sizes or a size without throughput.
func scaleOf(sizes []SizeResult) *ScaleResult {
	if len(sizes) < 2 {
		return nil
	}
	from, to := sizes[0], sizes[len(sizes)-1]
	if from.AlertsPerSec <= 0 || from.WithIncidentsPerSec <= 0 {
		return nil
	}
	res := &ScaleResult{FromEntities: from.Entities, ToEntities: to.Entities,
		AlertsPerSecRatio: to.AlertsPerSec / from.AlertsPerSec, WithIncidentsRatio: to.WithIncidentsPerSec / from.WithIncidentsPerSec}
	if from.CPU.CorrelatorMs > 0 && from.CPU.ServerMs > 0 {
		res.CorrelatorCPURatio, res.ServerCPURatio = to.CPU.CorrelatorMs/from.CPU.CorrelatorMs, to.CPU.ServerMs/from.CPU.ServerMs
	}
	return res
}
