package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// RestartResult is the services' start on a directory that has a current snapshot: what a
// restart of either service costs in a deployment, where the correlator keeps the snapshot.
type RestartResult struct {
	// SnapshotSeconds is the time to write the snapshot (directory.WriteSnapshot, as the
	// correlator's keeper writes it), SnapshotBytes its size.
	SnapshotSeconds float64 `json:"snapshot_s"`
	SnapshotBytes   uint64  `json:"snapshot_bytes"`
	// CorrelatorReadySeconds and BadgeReadySeconds: start to ready, from the snapshot.
	CorrelatorReadySeconds float64  `json:"correlator_ready_s"`
	BadgeReadySeconds      float64  `json:"badge_ready_s"`
	ReadyCPU               ReadyCPU `json:"ready_cpu"`
}

// ReadyCPU is the CPU time, in seconds, each service used from its start until ready, and the
// harness's process (the embedded NATS server, mostly) while both started.
type ReadyCPU struct {
	Correlator float64 `json:"correlator_s"`
	Badge      float64 `json:"badge_s"`
	Server     float64 `json:"server_s"`
}

func (c readyCPU) seconds() ReadyCPU {
	return ReadyCPU{Correlator: c.correlator.Seconds(), Badge: c.badge.Seconds(), Server: c.server.Seconds()}
}

// String is the CPU times in a phrase, for the report.
func (c ReadyCPU) String() string {
	return fmt.Sprintf("CPU to ready: correlator %.1f s, badge %.1f s, server %.1f s", c.Correlator, c.Badge, c.Server)
}

// restartFromSnapshot writes the directory snapshot (the services run with their keeper off,
// so that no snapshot is written while a figure is measured), then starts both services again
// and checks that the last user is known. The snapshot is deleted afterwards: the other sync
// mode's services start as the first did.
func restartFromSnapshot(ctx context.Context, srv *jsServer, binDir string, users int, progress io.Writer) (*RestartResult, error) {
	kv, err := srv.js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return nil, err
	}
	store, err := srv.js.ObjectStore(ctx, natsx.BucketDirectorySnapshot)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	info, err := directory.WriteSnapshot(ctx, kv, store)
	if err != nil {
		return nil, err
	}
	res := &RestartResult{SnapshotSeconds: time.Since(start).Seconds(), SnapshotBytes: info.Bytes}
	defer store.Delete(context.WithoutCancel(ctx), "directory") //nolint:errcheck // a snapshot left is only used, never wrong
	svc, err := startServices(ctx, binDir, srv.url(), progress)
	if err != nil {
		return nil, fmt.Errorf("restart from the snapshot: %w", err)
	}
	defer svc.stop()
	res.CorrelatorReadySeconds, res.BadgeReadySeconds = svc.correlatorReady.Seconds(), svc.badgeReady.Seconds()
	res.ReadyCPU = svc.readyCPU.seconds()
	if err := waitKnown(ctx, svc.client, users-1, time.Minute); err != nil {
		return nil, fmt.Errorf("restart from the snapshot: %w", err)
	}
	return res, nil
}
