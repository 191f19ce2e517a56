package ports

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// LogonSubjects are the events that carry logon and address facts: Security 4624 on every
// host, Kerberos 4768/4769 on domain controllers, Sysmon 3 connections on endpoints.
var LogonSubjects = map[string][]string{
	natsx.StreamDCEvents: {
		natsx.SubjectDCEvents + ".security.4624", natsx.SubjectDCEvents + ".security.4768", natsx.SubjectDCEvents + ".security.4769",
	},
	natsx.StreamEndpointEvents: {
		natsx.SubjectEndpointEvents + ".security.4624", natsx.SubjectEndpointEvents + ".microsoft-windows-sysmon_operational.3",
	},
}

// LogonFeed reads the logon facts of both event streams into a Logons table. Every correlator
// instance reads all of them with its own ordered consumer (nothing is acknowledged), so each
// has the whole table; the streams' retention bounds how far back it goes.
type LogonFeed struct {
	JS     jetstream.JetStream
	Logons *domain.Logons
	Log    *zap.Logger
}

// Start begins reading and returns a channel closed once both streams were read up to where
// they stood at start, so alerts are not resolved against a half-loaded table.
func (f *LogonFeed) Start(ctx context.Context) (<-chan struct{}, error) {
	var wg sync.WaitGroup
	for stream, subjects := range LogonSubjects {
		cons, err := f.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
		if err != nil {
			return nil, fmt.Errorf("logon feed on %s: %w", stream, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("logon feed on %s: %w", stream, err)
		}
		wg.Add(1)
		var once sync.Once
		caughtUp := func() { once.Do(wg.Done) }
		if info.NumPending == 0 {
			caughtUp()
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			var ev adjoinv1.Event
			if err := natsx.Decode(m.Headers(), m.Data(), &ev); err != nil {
				f.Log.Warn("skipping undecodable event in logon feed", zap.String("subject", m.Subject()), logx.Err(err))
			} else {
				f.Logons.Observe(&ev)
			}
			if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 {
				caughtUp()
			}
		})
		if err != nil {
			return nil, fmt.Errorf("logon feed on %s: %w", stream, err)
		}
		go func() {
			<-ctx.Done()
			cc.Stop()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done, nil
}

// WaitCaughtUp waits for the feed to catch up, at most d; past that the correlator starts
// anyway and pending alerts are retried as facts arrive.
func WaitCaughtUp(ctx context.Context, done <-chan struct{}, d time.Duration, log *zap.Logger) {
	select {
	case <-done:
		log.Info("logon feed caught up")
	case <-time.After(d):
		log.Warn("logon feed still catching up; starting anyway", zap.Duration("waited", d))
	case <-ctx.Done():
	}
}
