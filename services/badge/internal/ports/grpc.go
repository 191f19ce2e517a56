// Package ports holds the badge service's incoming side: the gRPC BadgeService.
package ports

import (
	"context"
	"errors"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// GRPCServer implements adjoin.v1.BadgeService; it translates, the app decides.
type GRPCServer struct {
	adjoinv1.UnimplementedBadgeServiceServer
	Badges *app.Badges
	Log    *zap.Logger
}

// GetBadge implements adjoin.v1.BadgeService.
func (s *GRPCServer) GetBadge(ctx context.Context, req *adjoinv1.GetBadgeRequest) (*adjoinv1.GetBadgeResponse, error) {
	b, err := s.Badges.Get(ctx, req.GetSelector())
	if err != nil {
		return nil, s.toStatus(err)
	}
	return &adjoinv1.GetBadgeResponse{Badge: b}, nil
}

func (s *GRPCServer) toStatus(err error) error {
	switch {
	case errors.Is(err, app.ErrInvalidSelector):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, app.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	s.Log.Error("badge lookup failed", zap.Error(err))
	return status.Error(codes.Unavailable, err.Error())
}
