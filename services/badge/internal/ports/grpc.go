// Package ports holds the badge service's incoming side: the gRPC BadgeService.
package ports

import (
	"context"
	"errors"
	"sync/atomic"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adjoin/adjoin/pkg/authn"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// GRPCServer implements adjoin.v1.BadgeService; it translates, the app decides.
type GRPCServer struct {
	adjoinv1.UnimplementedBadgeServiceServer
	Badges     *app.Badges
	View       *app.View
	Correlated app.Correlated
	Status     *app.Status
	// Incidents is the index ListEntityIncidents answers from (nil: Unimplemented).
	Incidents *app.Incidents
	Log       *zap.Logger
	// Stopping, when closed, ends open streams so a graceful stop need not wait for clients
	// to hang up; they get UNAVAILABLE and reconnect elsewhere.
	Stopping <-chan struct{}
	// MaxWatchesOfAll bounds the watches of every entity open at once (0: DefaultMaxWatchesOfAll).
	MaxWatchesOfAll int

	watchesOfAll atomic.Int64
}

// streamContext is ctx, also ended when the server begins to stop.
func (s *GRPCServer) streamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if s.Stopping != nil {
		stop := s.Stopping
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// errStopping is returned on streams ended by a shutdown.
var errStopping = status.Error(codes.Unavailable, "server shutting down; reconnect")

// GetBadge implements adjoin.v1.BadgeService.
func (s *GRPCServer) GetBadge(ctx context.Context, req *adjoinv1.GetBadgeRequest) (*adjoinv1.GetBadgeResponse, error) {
	resp, err := s.Badges.Answer(ctx, req.GetSelector())
	if err != nil {
		return nil, s.toStatus(err)
	}
	return resp, nil
}

// BatchGetBadges implements adjoin.v1.BadgeService.
func (s *GRPCServer) BatchGetBadges(ctx context.Context, req *adjoinv1.BatchGetBadgesRequest) (*adjoinv1.BatchGetBadgesResponse, error) {
	results, err := s.Badges.Batch(ctx, req.GetSelectors())
	if err != nil {
		return nil, s.toStatus(err)
	}
	return &adjoinv1.BatchGetBadgesResponse{Results: results}, nil
}

// ListEntityAlerts implements adjoin.v1.BadgeService.
func (s *GRPCServer) ListEntityAlerts(ctx context.Context, req *adjoinv1.ListEntityAlertsRequest) (*adjoinv1.ListEntityAlertsResponse, error) {
	if s.Correlated == nil {
		return nil, status.Error(codes.Unimplemented, "timeline not configured")
	}
	resp, err := s.Badges.Timeline(ctx, s.Correlated, req.GetSelector(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(err)
	}
	return resp, nil
}

// ListEntityIncidents implements adjoin.v1.BadgeService.
func (s *GRPCServer) ListEntityIncidents(_ context.Context, req *adjoinv1.ListEntityIncidentsRequest) (*adjoinv1.ListEntityIncidentsResponse, error) {
	if s.Incidents == nil {
		return nil, status.Error(codes.Unimplemented, "incidents not configured")
	}
	resp, err := s.Badges.EntityIncidents(req.GetSelector(), s.Incidents, req.GetLimit())
	if err != nil {
		return nil, s.toStatus(err)
	}
	return resp, nil
}

// StreamCorrelated implements adjoin.v1.BadgeService.
func (s *GRPCServer) StreamCorrelated(req *adjoinv1.StreamCorrelatedRequest, stream adjoinv1.BadgeService_StreamCorrelatedServer) error {
	if s.Correlated == nil {
		return status.Error(codes.Unimplemented, "stream not configured")
	}
	subjects, err := s.Badges.CorrelatedSubjects(req.GetSelectors())
	if err != nil {
		return s.toStatus(err)
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	err = s.Correlated.Follow(ctx, subjects, req.GetCursor(), req.GetNewOnly(),
		func(seq uint64, subject string, c *adjoinv1.CorrelatedAlert) error {
			return stream.Send(&adjoinv1.StreamCorrelatedResponse{Correlated: c, Cursor: seq, Subject: subject})
		})
	switch {
	case stream.Context().Err() != nil:
		return nil
	case ctx.Err() != nil:
		return errStopping
	case err != nil:
		return s.toStatus(err)
	}
	return nil
}

// GetIntegrationStatus implements adjoin.v1.BadgeService.
func (s *GRPCServer) GetIntegrationStatus(ctx context.Context, _ *adjoinv1.GetIntegrationStatusRequest) (*adjoinv1.GetIntegrationStatusResponse, error) {
	resp, err := s.Status.Get(ctx)
	if err != nil {
		return nil, s.toStatus(err)
	}
	return resp, nil
}

// SetIntegration implements adjoin.v1.BadgeService.
func (s *GRPCServer) SetIntegration(ctx context.Context, req *adjoinv1.SetIntegrationRequest) (*adjoinv1.SetIntegrationResponse, error) {
	by := authn.Sender(ctx) // the interceptor's or the console's name of the caller
	resp, err := s.Status.Set(ctx, req.GetSide(), req.GetEnabled(), by)
	if err != nil {
		return nil, s.toStatus(err)
	}
	s.Log.Info("integration toggled", zap.String("side", req.GetSide().String()), zap.Bool("enabled", req.GetEnabled()), zap.String("by", by))
	return &adjoinv1.SetIntegrationResponse{Status: resp}, nil
}

func (s *GRPCServer) toStatus(err error) error {
	switch {
	case errors.Is(err, app.ErrInvalidSelector), errors.Is(err, app.ErrBatchSize),
		errors.Is(err, app.ErrPageToken), errors.Is(err, app.ErrInvalidSide):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, app.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, app.ErrCursor):
		return status.Error(codes.OutOfRange, err.Error())
	}
	code := natsCode(err)
	if code == codes.ResourceExhausted {
		s.Log.Warn("badge request refused: a NATS limit is reached", logx.Err(err))
	} else {
		s.Log.Error("badge request failed", zap.Stringer("code", code), logx.Err(err))
	}
	return status.Error(code, err.Error())
}
