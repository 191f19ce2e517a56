package dirsync

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/dcingest/internal/adapters"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldapsource"
)

// StartLDAP starts syncing adjoin_directory (dirKV) from the DC of s in the background, when
// one is set: the service serves whether or not the DC answers. Each sync's outcome is recorded
// in adjoin_status and m. netbiosDomain is the --netbios-domain of the entities' DOMAIN\sam
// names (empty: from the DNs). stop waits for the sync to end.
func StartLDAP(ctx context.Context, s LDAPSettings, netbiosDomain string, js jetstream.JetStream, dirKV jetstream.KeyValue,
	m *metrics.Metrics, log *zap.Logger) (stop func(), err error) {
	if s.URL == "" {
		return func() {}, nil
	}
	status, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", natsx.BucketStatus, err)
	}
	l := &ldapLoop{
		sync: &ldapsource.LDAPSync{Config: s.ldapConfig(), FullEvery: s.FullInterval,
			Options: ldapsource.Options{Source: s.Source(), NetBIOSDomain: netbiosDomain}},
		store: adapters.DirectoryKV{KV: dirKV}, status: status, metrics: m, interval: s.Interval,
		log: log.With(zap.String("source", s.Source())),
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	return func() { cancel(); wg.Wait() }, nil
}

// ldapLoop runs one LDAP source's syncs and reports each in adjoin_status.
type ldapLoop struct {
	sync     *ldapsource.LDAPSync
	store    adapters.DirectoryKV
	status   jetstream.KeyValue
	metrics  *metrics.Metrics
	interval time.Duration
	log      *zap.Logger
	rec      *adjoinv1.DirectorySync
}

// run syncs until ctx ends: every interval after a success, with a doubling delay after
// failures, during which the last good directory stays as it is.
func (l *ldapLoop) run(ctx context.Context) {
	source := l.sync.Options.Source
	l.rec = &adjoinv1.DirectorySync{Source: source}
	if prev, err := directory.GetSync(ctx, l.status, source); err == nil && prev != nil {
		l.rec = prev // keep the last success and the failure count across restarts
	}
	l.rec.Instance = heartbeat.Instance()
	failures := uint32(0) // of this process: a restart retries quickly again
	for {
		err := l.attempt(ctx, failures+1)
		if ctx.Err() != nil {
			return
		}
		wait := l.interval
		if err != nil {
			failures++
			wait = retryDelay(l.interval, failures)
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// retryDelay doubles from min(interval, 5s) after each consecutive failure, up to the larger
// of interval and 5 minutes.
func retryDelay(interval time.Duration, failures uint32) time.Duration {
	d, ceiling := min(interval, 5*time.Second), max(interval, 5*time.Minute)
	for i := uint32(1); i < failures && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// attempt runs one sync, stores it, and records the outcome; a failure would be the
// failures-th in a row.
func (l *ldapLoop) attempt(ctx context.Context, failures uint32) error {
	start := time.Now()
	l.rec.LastAttempt = timestamppb.New(start)
	res, err := l.sync.Sync(ctx, start)
	var written, deleted int
	if err == nil {
		if written, deleted, err = l.apply(ctx, res); err != nil {
			l.sync.Forget() // the bucket may hold part of it: start over with a full sync
		}
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down, not a failure
	}
	if err != nil {
		l.rec.LastError, l.rec.LastErrorTime = err.Error(), timestamppb.Now()
		l.rec.Failures++
		l.metrics.DirectorySyncErrors.Inc()
		l.log.Error("LDAP directory sync failed; the directory keeps what the last good sync stored",
			zap.Uint32("failures", l.rec.GetFailures()), zap.Duration("retry_in", retryDelay(l.interval, failures)), logx.Err(err))
	} else {
		took := time.Since(start)
		total := res.Users + res.Computers
		l.rec.LastSuccess, l.rec.LastKind = timestamppb.Now(), res.Kind
		l.rec.Users, l.rec.Computers = uint64(res.Users), uint64(res.Computers)
		l.rec.Disabled, l.rec.Privileged = uint64(res.Disabled), uint64(res.Privileged)
		l.rec.Written, l.rec.Unchanged, l.rec.Deleted = uint64(written), uint64(max(total-written, 0)), uint64(deleted)
		l.rec.HighestUsn, l.rec.Server = res.USN, res.Server
		l.rec.LastError, l.rec.LastErrorTime, l.rec.Failures = "", nil, 0
		l.metrics.DirectorySyncTime.SetToCurrentTime()
		l.metrics.DirectorySyncSeconds.WithLabelValues(res.Kind).Observe(took.Seconds())
		level := zap.DebugLevel
		if res.Kind == ldapsource.KindFull || written+deleted > 0 {
			level = zap.InfoLevel
		}
		l.log.Log(level, "LDAP directory sync", zap.String("kind", res.Kind), zap.String("server", res.Server),
			zap.Int64("usn", res.USN), zap.Int("users", res.Users), zap.Int("computers", res.Computers),
			zap.Int("written", written), zap.Int("deleted", deleted), zap.Duration("took", took))
	}
	if perr := directory.PutSync(ctx, l.status, l.rec); perr != nil && ctx.Err() == nil {
		l.log.Warn("cannot store the directory sync status", logx.Err(perr))
	}
	return err
}

// apply stores a sync's entities and deletes what it says is gone; a full sync also deletes
// this source's entities it did not see.
func (l *ldapLoop) apply(ctx context.Context, res *ldapsource.SyncResult) (written, deleted int, err error) {
	imp, err := l.store.Import(ctx, res.Put)
	if err != nil {
		return 0, 0, err
	}
	gone := res.Delete
	if res.Kind == ldapsource.KindFull {
		stored, err := l.store.KeysOfSource(ctx, l.sync.Options.Source)
		if err != nil {
			return imp.Written, 0, err
		}
		seen := make(map[string]bool, len(res.Put))
		for _, e := range res.Put {
			seen[e.GetKey()] = true
		}
		for _, k := range stored {
			if !seen[k] {
				gone = append(gone, k)
			}
		}
	}
	deleted, err = l.store.DeleteOfSource(ctx, l.sync.Options.Source, gone)
	return imp.Written, deleted, err
}
