package ports

import (
	"context"
	"time"

	"github.com/adjoin/adjoin/pkg/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// MetricsUnary counts unary requests by method and code, and times them.
func MetricsUnary(m *metrics.Metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		observe(m, info.FullMethod, err, start)
		return resp, err
	}
}

// MetricsStream counts streams by method and final code, and times them to their end.
func MetricsStream(m *metrics.Metrics) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		observe(m, info.FullMethod, err, start)
		return err
	}
}

func observe(m *metrics.Metrics, method string, err error, start time.Time) {
	if m == nil {
		return
	}
	m.GRPCRequests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.GRPCSeconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
}
