package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// MemoryResult is the resident memory of the adjoin-correlator and adjoin-badge processes
// started on an empty directory, and started on the directory of Entities users once they
// had loaded it (before any alert of that size), with what the smaller sizes' alerts left.
type MemoryResult struct {
	Entities   int        `json:"entities"`
	Correlator ProcMemory `json:"correlator"`
	Badge      ProcMemory `json:"badge"`
}

// ProcMemory is one process's VmRSS (and VmHWM, its peak) from /proc/<pid>/status.
// PerEntityBytes is (AfterBytes - BeforeBytes) / Entities: what the directory costs the process
// per entity, the Go heap's headroom and what it has not returned to the system included.
type ProcMemory struct {
	BeforeBytes    int64   `json:"rss_before_bytes"`
	AfterBytes     int64   `json:"rss_after_bytes"`
	PeakBytes      int64   `json:"rss_peak_bytes"`
	PerEntityBytes float64 `json:"bytes_per_entity"`
	// ReadySeconds is the time from the process's start on the directory of Entities users
	// until it was ready: /readyz 200 for the correlator, gRPC health SERVING for the badge.
	ReadySeconds float64 `json:"ready_s"`
}

// memoryBefore starts the services on the server's (empty) directory, lets them settle and
// reads their resident memory.
func memoryBefore(ctx context.Context, binDir, url string, settle time.Duration, progress io.Writer) (*MemoryResult, error) {
	svc, err := startServices(ctx, binDir, url, progress)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	time.Sleep(settle)
	m := &MemoryResult{}
	if m.Correlator.BeforeBytes, _, m.Badge.BeforeBytes, _, err = svc.rss(); err != nil {
		return nil, err
	}
	return m, nil
}

// after reads the services' resident memory at entities users, after settle.
func (m *MemoryResult) after(svc *services, entities int, settle time.Duration) error {
	time.Sleep(settle)
	var err error
	if m.Correlator.AfterBytes, m.Correlator.PeakBytes, m.Badge.AfterBytes, m.Badge.PeakBytes, err = svc.rss(); err != nil {
		return err
	}
	m.Entities = entities
	m.Correlator.ReadySeconds, m.Badge.ReadySeconds = svc.correlatorReady.Seconds(), svc.badgeReady.Seconds()
	for _, p := range []*ProcMemory{&m.Correlator, &m.Badge} {
		p.PerEntityBytes = float64(p.AfterBytes-p.BeforeBytes) / float64(entities)
	}
	return nil
}

// String is the memory figures in a line, for progress.
func (m *MemoryResult) String() string {
	return fmt.Sprintf("correlator %s → %s, badge %s → %s at %d users", mib(m.Correlator.BeforeBytes), mib(m.Correlator.AfterBytes),
		mib(m.Badge.BeforeBytes), mib(m.Badge.AfterBytes), m.Entities)
}
