package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// Facts reads app.Facts from the streams and the correlator's consumer.
type Facts struct {
	JS jetstream.JetStream
	// CorrelatorDurable is the correlator's consumer on ALERTS.
	CorrelatorDurable string
	// Status is the adjoin_status bucket with the services' heartbeats; nil lists none.
	Status jetstream.KeyValue
}

var _ app.FactSource = Facts{}

// Facts implements app.FactSource.
func (f Facts) Facts(ctx context.Context) (app.Facts, error) {
	var out app.Facts
	var err error
	if out.IdentityEvents, out.IdentityLast, err = streamState(ctx, f.JS, natsx.StreamDCEvents); err != nil {
		return out, err
	}
	if out.EndpointEvents, out.EndpointLast, err = streamState(ctx, f.JS, natsx.StreamEndpointEvents); err != nil {
		return out, err
	}
	if out.IdentityAlerts, err = subjectCount(ctx, f.JS, natsx.StreamAlerts, natsx.SubjectIdentityAlerts+".>"); err != nil {
		return out, err
	}
	if out.EndpointAlerts, err = subjectCount(ctx, f.JS, natsx.StreamAlerts, natsx.SubjectEndpointAlerts+".>"); err != nil {
		return out, err
	}
	if out.AlertsWaiting, out.LagSeconds, err = f.lag(ctx); err != nil {
		return out, err
	}
	if f.Status != nil {
		if out.Services, err = heartbeat.List(ctx, f.Status); err != nil {
			return out, fmt.Errorf("heartbeats: %w", err)
		}
		out.Services = heartbeat.Current(out.Services, time.Now()) // stale rows expire

		if out.DirectorySyncs, err = directory.ListSyncs(ctx, f.Status); err != nil {
			return out, fmt.Errorf("directory sync status: %w", err)
		}
	}
	return out, nil
}

// lag is the age of the oldest alert the correlator has not acknowledged, or, when it is idle,
// how long the newest alert took to come out on CORRELATED.
func (f Facts) lag(ctx context.Context) (uint64, float64, error) {
	alerts, err := f.JS.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s: %w", natsx.StreamAlerts, err)
	}
	cons, err := alerts.Consumer(ctx, f.CorrelatorDurable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		info := alerts.CachedInfo()
		return info.State.Msgs, 0, nil // no correlator has started yet
	}
	if err != nil {
		return 0, 0, fmt.Errorf("consumer %s: %w", f.CorrelatorDurable, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	waiting := ci.NumPending + uint64(ci.NumAckPending)
	if waiting > 0 {
		m, err := alerts.GetMsg(ctx, ci.AckFloor.Stream+1)
		if err != nil {
			return waiting, 0, nil // purged or not yet visible: age unknown
		}
		return waiting, time.Since(m.Time).Seconds(), nil
	}
	_, corrLast, err := streamState(ctx, f.JS, natsx.StreamCorrelated)
	if err != nil {
		return 0, 0, err
	}
	_, alertLast, err := streamState(ctx, f.JS, natsx.StreamAlerts)
	if err != nil {
		return 0, 0, err
	}
	if lag := corrLast.Sub(alertLast); lag > 0 && !alertLast.IsZero() {
		return 0, lag.Seconds(), nil
	}
	return 0, 0, nil
}

func streamState(ctx context.Context, js jetstream.JetStream, name string) (uint64, time.Time, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("stream %s: %w", name, err)
	}
	info := s.CachedInfo()
	return info.State.Msgs, info.State.LastTime, nil
}

func subjectCount(ctx context.Context, js jetstream.JetStream, stream, filter string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("stream %s subjects %s: %w", stream, filter, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
