package ports

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
)

// TestMetricsUnary: the series looked up once count each call under its own method and code,
// and only the pairs that occurred exist (no zero series for codes never returned).
func TestMetricsUnary(t *testing.T) {
	get, status_ := adjoinv1.BadgeService_GetBadge_FullMethodName, adjoinv1.BadgeService_GetIntegrationStatus_FullMethodName
	calls := []struct {
		method string
		err    error
	}{
		{get, nil}, {get, nil}, {get, status.Error(codes.NotFound, "x")}, {status_, nil},
		{get, nil}, {status_, status.Error(codes.Unavailable, "x")}, {get, status.Error(codes.NotFound, "y")},
	}
	want := []struct {
		method string
		code   codes.Code
		n      float64
	}{{get, codes.OK, 3}, {get, codes.NotFound, 2}, {status_, codes.OK, 1}, {status_, codes.Unavailable, 1}}
	m := metrics.New()
	icpt := MetricsUnary(m)
	for _, c := range calls {
		_, _ = icpt(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: c.method},
			func(context.Context, any) (any, error) { return nil, c.err })
	}
	series := gather(t, m)
	for _, w := range want {
		if got := series[w.method+" "+w.code.String()]; got != w.n {
			t.Errorf("%s %s: %v requests, want %v", w.method, w.code, got, w.n)
		}
	}
	if series[get] != 5 || series[status_] != 2 {
		t.Errorf("calls timed: %v %s, %v %s; want 5 and 2", series[get], get, series[status_], status_)
	}
	if len(series) != len(want)+2 {
		t.Errorf("series %v, want the %d above and one duration per method", series, len(want))
	}
}

// gather returns the gRPC series of m: "<method> <code>" -> requests, "<method>" -> calls timed.
func gather(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "adjoin_grpc_requests_total":
				out[labels["method"]+" "+labels["code"]] = s.GetCounter().GetValue()
			case "adjoin_grpc_request_seconds":
				out[labels["method"]] = float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
