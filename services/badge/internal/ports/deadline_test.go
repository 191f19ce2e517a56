package ports

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestDefaultDeadline: a call that may wait and comes without a deadline gets the default one;
// a caller's own deadline is kept; calls answered from memory get none (nothing in them waits).
func TestDefaultDeadline(t *testing.T) {
	const def = time.Hour
	own := time.Now().Add(time.Minute)
	tests := []struct {
		name     string
		method   string
		deadline time.Time // the caller's; zero: none
		def      time.Duration
		want     bool // a deadline seen by the handler
		wantOwn  bool // and it is the caller's
	}{
		{"status without deadline", adjoinv1.BadgeService_GetIntegrationStatus_FullMethodName, time.Time{}, def, true, false},
		{"timeline without deadline", adjoinv1.BadgeService_ListEntityAlerts_FullMethodName, time.Time{}, def, true, false},
		{"status with its own", adjoinv1.BadgeService_GetIntegrationStatus_FullMethodName, own, def, true, true},
		{"no default configured", adjoinv1.BadgeService_SetIntegration_FullMethodName, time.Time{}, 0, false, false},
		{"GetBadge without deadline", adjoinv1.BadgeService_GetBadge_FullMethodName, time.Time{}, def, false, false},
		{"BatchGetBadges without deadline", adjoinv1.BadgeService_BatchGetBadges_FullMethodName, time.Time{}, def, false, false},
		{"GetBadge with its own", adjoinv1.BadgeService_GetBadge_FullMethodName, own, def, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if !tt.deadline.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, tt.deadline)
				defer cancel()
			}
			var got time.Time
			var ok bool
			_, err := (&Auth{}).unary(tt.def)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tt.method},
				func(ctx context.Context, _ any) (any, error) {
					got, ok = ctx.Deadline()
					return nil, nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want || (tt.wantOwn && !got.Equal(own)) || (ok && !tt.wantOwn && got.Equal(own)) {
				t.Errorf("handler deadline %v (set %v), want set %v, the caller's %v", got, ok, tt.want, tt.wantOwn)
			}
		})
	}
}
