package directory

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
)

// SnapshotKeeper rewrites the directory snapshot when it is missing, unusable or behind the
// bucket. Several processes may run one: before each write a keeper claims the Claim key of
// the Claims bucket with a compare-and-set, and a claim younger than three checks held by
// another keeper makes it stand by, so one process writes at a time.
type SnapshotKeeper struct {
	Bucket jetstream.KeyValue    // the directory bucket
	Store  jetstream.ObjectStore // natsx.BucketDirectorySnapshot
	Claims jetstream.KeyValue    // where the writer's claim is kept (adjoin_status)
	Claim  string                // its key
	Holder string                // this process, as the claim names it
	Log    *zap.Logger

	Every      time.Duration // how often the snapshot is checked (the first check after one period)
	MinEntries int           // below this many entries no snapshot is written: a full load is quick
	Changes    uint64        // a snapshot this many sequences behind the bucket is rewritten
	MaxAge     time.Duration // a snapshot behind the bucket and this old is rewritten

	// OnWrite, when set, is called after every snapshot written.
	OnWrite func(SnapshotInfo)
}

// Run checks the snapshot every period until ctx ends. It never returns an error: a failed
// check or write is logged and tried again at the next period.
func (k *SnapshotKeeper) Run(ctx context.Context) {
	t := time.NewTicker(k.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.Check(ctx); err != nil && ctx.Err() == nil {
			k.Log.Warn("directory snapshot: check or write failed; trying again later", logx.Err(err))
		}
	}
}

// Check writes a snapshot when one is due and this keeper holds the claim.
func (k *SnapshotKeeper) Check(ctx context.Context) error {
	due, why, err := k.due(ctx)
	if err != nil || !due {
		return err
	}
	if claimed, err := k.claim(ctx); err != nil || !claimed {
		return err
	}
	start := time.Now()
	info, err := WriteSnapshot(ctx, k.Bucket, k.Store)
	if err != nil {
		return err
	}
	if info.Entries >= returnAfterLoad {
		debug.FreeOSMemory() // the watcher's entries, as after a load
	}
	k.Log.Info("directory snapshot written", zap.String("why", why), zap.Uint64("sequence", info.Seq),
		zap.Uint64("entries", info.Entries), zap.Uint64("bytes", info.Bytes), zap.Duration("took", time.Since(start)))
	if k.OnWrite != nil {
		k.OnWrite(info)
	}
	return nil
}

// due says whether the snapshot should be written now, and why.
func (k *SnapshotKeeper) due(ctx context.Context) (bool, string, error) {
	st, err := k.Bucket.Status(ctx)
	if err != nil {
		return false, "", fmt.Errorf("bucket %s: %w", k.Bucket.Bucket(), err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || st.Values() < uint64(k.MinEntries) {
		return false, "", nil
	}
	si := bs.StreamInfo()
	m, err := readManifest(ctx, k.Store)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return true, "none yet", nil
	case errors.Is(err, errSnapshot):
		return true, err.Error(), nil
	case err != nil:
		return false, "", fmt.Errorf("snapshot manifest: %w", err)
	}
	head, err := k.head(ctx, m)
	if err != nil {
		return true, err.Error(), nil
	}
	if err := usable(head, si); err != nil {
		return true, err.Error(), nil
	}
	behind := si.State.LastSeq - head.seq
	switch {
	case behind >= k.Changes:
		return true, fmt.Sprintf("%d sequences behind", behind), nil
	case behind > 0 && time.Since(m.modTime) >= k.MaxAge:
		return true, fmt.Sprintf("%d sequences behind and written %s ago", behind, time.Since(m.modTime).Round(time.Second)), nil
	}
	return false, "", nil
}

// head reads the snapshot's header only.
func (k *SnapshotKeeper) head(ctx context.Context, m manifest) (snapshotHead, error) {
	r := &partsReader{ctx: ctx, store: k.Store, parts: m.parts}
	defer r.Close() //nolint:errcheck // read-only; the rest of the part is not wanted
	_, head, err := newSnapshotReader(r, k.Bucket.Bucket())
	return head, err
}

// claim takes or renews the writer's claim: "holder unix-nanoseconds", replaced by
// compare-and-set when it is this keeper's or older than three periods.
func (k *SnapshotKeeper) claim(ctx context.Context) (bool, error) {
	now := time.Now()
	value := []byte(k.Holder + " " + strconv.FormatInt(now.UnixNano(), 10))
	e, err := k.Claims.Get(ctx, k.Claim)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		_, err = k.Claims.Create(ctx, k.Claim, value)
		return err == nil, ignoreLostRace(err)
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", k.Claim, err)
	}
	holder, at, _ := strings.Cut(string(e.Value()), " ")
	nanos, _ := strconv.ParseInt(at, 10, 64)
	if holder != k.Holder && now.Sub(time.Unix(0, nanos)) < 3*k.Every {
		return false, nil
	}
	_, err = k.Claims.Update(ctx, k.Claim, value, e.Revision())
	return err == nil, ignoreLostRace(err)
}

// ignoreLostRace drops the error of a compare-and-set another keeper won.
func ignoreLostRace(err error) error {
	if err == nil || errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil
	}
	return err
}
