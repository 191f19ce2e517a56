package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// factsTimeout bounds the stream reads of one status request.
const factsTimeout = 2 * time.Second

var errNotConnected = errors.New("NATS is unreachable: showing the last known state")

// ErrInvalidSide means a request named no side, or one that does not exist.
var ErrInvalidSide = errors.New("invalid side")

// Facts are what the streams tell about data flowing.
type Facts struct {
	IdentityEvents, EndpointEvents uint64
	IdentityLast, EndpointLast     time.Time
	IdentityAlerts, EndpointAlerts uint64
	AlertsWaiting                  uint64
	LagSeconds                     float64
	// Services are the heartbeats in adjoin_status.
	Services []*adjoinv1.ServiceHeartbeat
	// DirectorySyncs are what each directory source (LDAP server, LDIF file) last did.
	DirectorySyncs []*adjoinv1.DirectorySync
}

// FactSource reads Facts from NATS.
type FactSource interface {
	Facts(ctx context.Context) (Facts, error)
}

// ConfigWriter stores a configuration value (adjoin_config).
type ConfigWriter interface {
	PutConfig(ctx context.Context, key, value string) error
}

// Status answers GetIntegrationStatus and SetIntegration. When NATS cannot be read it returns
// the last facts it knew, saying so.
type Status struct {
	Facts     FactSource
	Config    ConfigWriter
	View      *View
	Index     *directory.Index
	Connected func() bool
	// DirectoryChanged returns when the directory last changed, zero if never.
	DirectoryChanged func() time.Time

	mu       sync.Mutex
	last     Facts
	err      string
	reads    uint64 // reads started
	lastRead uint64 // the read last holds
}

// Get returns the integration status.
func (s *Status) Get(ctx context.Context) (*adjoinv1.GetIntegrationStatusResponse, error) {
	connected := s.Connected == nil || s.Connected()
	// While NATS is unreachable a stream read would only wait out the caller's deadline, and the
	// status page would get no answer at all: answer with the last facts at once instead. A read
	// is bounded too, for a connection lost while it is under way.
	var facts Facts
	err := errNotConnected
	s.mu.Lock()
	s.reads++
	read := s.reads
	s.mu.Unlock()
	if connected {
		fctx, cancel := context.WithTimeout(ctx, factsTimeout)
		facts, err = s.Facts.Facts(fctx)
		cancel()
	}
	s.mu.Lock()
	switch {
	case err != nil:
		facts, s.err = s.last, err.Error()
	case read > s.lastRead:
		s.last, s.err, s.lastRead = facts, "", read
	default:
		// A read that started earlier finished later (the metrics ticker beside a request):
		// what it saw is older than what last holds, which stays.
		facts, s.err = s.last, ""
	}
	lastErr := s.err
	s.mu.Unlock()
	idOn, _ := s.View.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_IDENTITY)
	epOn, _ := s.View.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_ENDPOINT)
	resp := &adjoinv1.GetIntegrationStatusResponse{
		Identity: &adjoinv1.SideStatus{Side: adjoinv1.Side_SIDE_IDENTITY, Enabled: idOn, Events: facts.IdentityEvents,
			Alerts: facts.IdentityAlerts, LastDataReceived: ts(facts.IdentityLast), LastError: lastErr},
		Endpoint: &adjoinv1.SideStatus{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: epOn, Events: facts.EndpointEvents,
			Alerts: facts.EndpointAlerts, LastDataReceived: ts(facts.EndpointLast), LastError: lastErr},
		Directory:          &adjoinv1.DirectoryStatus{Entities: uint64(s.Index.Len())},
		IntegrationEnabled: idOn && epOn,
		AlertsWaiting:      facts.AlertsWaiting,
		LagSeconds:         facts.LagSeconds,
		NatsConnected:      connected,
	}
	for _, side := range []*adjoinv1.SideStatus{resp.Identity, resp.Endpoint} {
		if c, ok := s.View.toggleChange(side.Side, side.Enabled); ok {
			side.ChangedBy, side.ChangedAt = c.By, timestamppb.New(c.At)
		}
	}
	resp.Services = facts.Services
	if lastErr == "" {
		resp.Identity.LastError = latestError(facts.Services, "dcingest")
		resp.Endpoint.LastError = latestError(facts.Services, "endpointingest")
	}
	if s.DirectoryChanged != nil {
		resp.Directory.LastChange = ts(s.DirectoryChanged())
	}
	resp.Directory.Syncs = facts.DirectorySyncs
	for _, sy := range facts.DirectorySyncs {
		if sy.GetLastError() != "" {
			resp.Directory.LastError = sy.GetSource() + ": " + sy.GetLastError()
		}
	}
	if resp.Directory.Entities == 0 && resp.Directory.LastError == "" {
		resp.Directory.LastError = "the directory is empty: no LDIF import or LDAP sync has run"
	}
	return resp, nil
}

// Set turns one side's integration on or off, recording by (who asks, "" when unknown) and
// when, and returns the status after the change, as the view sees it once the change came back
// through the bucket (bounded wait). The record is written before the toggle: a reader that
// sees the new toggle also finds who set it.
func (s *Status) Set(ctx context.Context, side adjoinv1.Side, enabled bool, by string) (*adjoinv1.GetIntegrationStatusResponse, error) {
	if side != adjoinv1.Side_SIDE_IDENTITY && side != adjoinv1.Side_SIDE_ENDPOINT {
		return nil, fmt.Errorf("%w: %v, want SIDE_IDENTITY or SIDE_ENDPOINT", ErrInvalidSide, side)
	}
	if by == "" {
		by = "unknown"
	}
	change := ToggleChange{Enabled: enabled, By: by, At: time.Now().UTC().Truncate(time.Millisecond)}.encode()
	if err := s.Config.PutConfig(ctx, ToggleChangeKey(side), change); err != nil {
		return nil, err
	}
	value := "off"
	if enabled {
		value = "on"
	}
	if err := s.Config.PutConfig(ctx, ToggleKey(side), value); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		on, _ := s.View.IntegrationEnabled(ctx, side)
		if stored, _ := s.View.Config(ToggleChangeKey(side)); on == enabled && stored == change {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := s.Get(ctx)
	if err != nil {
		return nil, err
	}
	return proto.Clone(resp).(*adjoinv1.GetIntegrationStatusResponse), nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// latestError is the newest error logged by any instance of service.
func latestError(hbs []*adjoinv1.ServiceHeartbeat, service string) string {
	var msg string
	var at time.Time
	for _, hb := range hbs {
		if hb.GetService() != service || hb.GetLastError() == "" {
			continue
		}
		if t := hb.GetLastErrorTime().AsTime(); msg == "" || t.After(at) {
			msg, at = hb.GetLastError(), t
		}
	}
	return msg
}
