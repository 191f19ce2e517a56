package ports

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adjoin/adjoin/pkg/metrics"
)

// MetricsUnary counts unary requests by method and code, and times them.
func MetricsUnary(m *metrics.Metrics) grpc.UnaryServerInterceptor {
	r := newRPCMetrics(m)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		r.observe(info.FullMethod, err, start)
		return resp, err
	}
}

// MetricsStream counts streams by method and final code, and times them to their end.
func MetricsStream(m *metrics.Metrics) grpc.StreamServerInterceptor {
	r := newRPCMetrics(m)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		r.observe(info.FullMethod, err, start)
		return err
	}
}

// rpcMetrics holds each series once looked up, so a request costs two map loads instead of
// hashing its labels twice (WithLabelValues): at tens of thousands of GetBadge a second that
// hashing was a visible share of the call. Series are still created on first use, as before;
// methods are the server's own (gRPC refuses others before interceptors), so the maps stay small.
type rpcMetrics struct {
	m        *metrics.Metrics
	requests sync.Map // methodCode -> prometheus.Counter
	seconds  sync.Map // full method -> prometheus.Observer
}

type methodCode struct {
	method string
	code   codes.Code
}

func newRPCMetrics(m *metrics.Metrics) *rpcMetrics { return &rpcMetrics{m: m} }

func (r *rpcMetrics) observe(method string, err error, start time.Time) {
	if r.m == nil {
		return
	}
	mc := methodCode{method, status.Code(err)}
	c, ok := r.requests.Load(mc)
	if !ok {
		c, _ = r.requests.LoadOrStore(mc, r.m.GRPCRequests.WithLabelValues(method, mc.code.String()))
	}
	c.(prometheus.Counter).Inc()
	o, ok := r.seconds.Load(method)
	if !ok {
		o, _ = r.seconds.LoadOrStore(method, r.m.GRPCSeconds.WithLabelValues(method))
	}
	o.(prometheus.Observer).Observe(time.Since(start).Seconds())
}
