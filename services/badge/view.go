package badge

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// buckets are the KV buckets the badge service reads.
type buckets struct {
	store                        adapters.KVStore // badges, devices, config
	directory, status, incidents jetstream.KeyValue
}

func openBuckets(ctx context.Context, js jetstream.JetStream) (buckets, error) {
	var b buckets
	for _, kv := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&b.store.Badges, natsx.BucketBadges}, {&b.store.Devices, natsx.BucketDevices}, {&b.store.Config, natsx.BucketConfig},
		{&b.directory, natsx.BucketDirectory}, {&b.status, natsx.BucketStatus}, {&b.incidents, natsx.BucketIncidents}} {
		var err error
		if *kv.kv, err = js.KeyValue(ctx, kv.name); err != nil {
			return b, fmt.Errorf("bucket %s: %w", kv.name, err)
		}
	}
	return b, nil
}

// loaded is the in-memory view every request is answered from.
type loaded struct {
	view       *app.View
	index      *directory.Index
	badges     *app.Badges
	incidents  *app.Incidents
	dirChanged atomic.Int64 // unix nanoseconds of the last directory change
}

// loadView loads the buckets into memory and keeps them current until rt stops. The watchers
// run under their own context so that they can be started again after NATS comes back: a
// watcher only notices a lost server after missing heartbeats, which would leave badges stale
// for tens of seconds while health already says SERVING.
func loadView(ctx context.Context, rt *service.Runtime, cfg Config, b buckets) (*loaded, error) {
	l := &loaded{view: app.NewView(), index: directory.NewIndex(), incidents: app.NewIncidents(app.IncidentsPerEntity, cfg.MaxIncidents)}
	l.index.Snapshots = directory.OpenSnapshots(ctx, rt.JS, rt.Log)
	// During the first load nothing is cached and nobody watches yet: one notice for all its
	// entities after it, rather than one per entity (a second of start-up at 1M entities).
	var done atomic.Bool
	l.index.OnChange = func(key string) {
		l.dirChanged.Store(time.Now().UnixNano())
		if done.Load() {
			l.view.Changed(key)
		}
	}
	// An entity's incidents changing is told as a change of its key: live console pages reload.
	l.incidents.OnChange = func(key string) {
		if done.Load() {
			l.view.Changed(key)
		}
	}
	l.badges = &app.Badges{Index: l.index, Store: l.view, Links: app.Links{
		Identity: cfg.IdentityLink, Endpoint: cfg.EndpointLink,
		Override: func(side adjoinv1.Side) (string, bool) { return l.view.Config(app.LinkKey(side)) },
	}}
	l.badges.Answers = app.NewAnswers(l.badges, cfg.BadgeCache)
	l.view.OnChange = l.badges.Answers.Changed // before the watchers: every change reaches the answers
	stop, err := natsx.Resume(ctx, rt.NC, func(wctx context.Context) error {
		// The view and the directory load side by side: the directory takes most of the start
		// and its decoding keeps one core busy, the view's buckets are other streams.
		viewLoaded, incLoaded := make(chan error, 1), make(chan error, 1)
		go func() { viewLoaded <- b.store.Follow(wctx, l.view, rt.Log) }()
		go func() { incLoaded <- adapters.FollowIncidents(wctx, b.incidents, l.incidents, rt.Log) }()
		dirErr := l.index.Follow(wctx, b.directory, rt.Log)
		if err := <-viewLoaded; err != nil {
			return err
		}
		if err := <-incLoaded; err != nil {
			return err
		}
		if dirErr != nil {
			return dirErr
		}
		if !done.Swap(true) {
			l.view.Changed(app.AllKeys) // also covers a change that came between the load and the swap
		}
		return nil
	}, rt.Log)
	if err != nil {
		return nil, err
	}
	rt.OnStop(stop)
	counts, devices := l.view.Size()
	incidents, _ := l.incidents.Len()
	rt.Log.Info("view loaded", zap.Int("entities", l.index.Len()), zap.Int("counted", counts), zap.Int("devices", devices),
		zap.Int("incidents", incidents))
	return l, nil
}

// status is the status page's use case over the view.
func (l *loaded) status(rt *service.Runtime, cfg Config, b buckets) *app.Status {
	return &app.Status{Facts: adapters.Facts{JS: rt.JS, CorrelatorDurable: cfg.CorrelatorDurable, Status: b.status}, Config: b.store,
		View: l.view, Index: l.index, Connected: rt.NC.IsConnected,
		DirectoryChanged: func() time.Time {
			if n := l.dirChanged.Load(); n > 0 {
				return time.Unix(0, n)
			}
			return time.Time{}
		}}
}
