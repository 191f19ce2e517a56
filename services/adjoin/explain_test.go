package adjoin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge"
)

// TestExplain: the CLI says the service is unreachable only when it is (UNAVAILABLE); any
// other refusal is printed with the service's own message.
func TestExplain(t *testing.T) {
	c := &clientFlags{addr: "127.0.0.1:9090", timeout: 5 * time.Second}
	tests := []struct {
		name    string
		err     error
		want    []string
		notWant string
	}{
		{"down", status.Error(codes.Unavailable, "connection refused"), []string{"unreachable", "connection refused"}, ""},
		{"consumer limit", status.Error(codes.ResourceExhausted, "follow CORRELATED: maximum consumers limit reached"),
			[]string{"maximum consumers limit reached", "RESOURCE_EXHAUSTED"}, "unreachable"},
		{"stream limit", status.Error(codes.ResourceExhausted, "this client has 16 streams open, the most allowed (max-streams-per-client); close one first"),
			[]string{"(max-streams-per-client)", "RESOURCE_EXHAUSTED"}, "unreachable"},
		{"cursor", status.Error(codes.OutOfRange, "cursor 99 past the end"), []string{"cursor 99 past the end", "OUT_OF_RANGE"}, "unreachable"},
		{"not provisioned", status.Error(codes.FailedPrecondition, "stream CORRELATED: stream not found"), []string{"stream not found", "FAILED_PRECONDITION"}, "unreachable"},
		{"corrupt record", status.Error(codes.DataLoss, "stored x: decode"), []string{"stored x: decode", "DATA_LOSS"}, "unreachable"},
		{"not found", status.Error(codes.NotFound, "entity not found in the directory"), []string{"entity not found in the directory"}, "unreachable"},
		{"slow", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), []string{"did not answer within 5s"}, "unreachable"},
		{"not an RPC error", errors.New("tls-ca: no such file"), []string{"tls-ca: no such file"}, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.explain(tt.err).Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if tt.notWant != "" && strings.Contains(got, tt.notWant) {
				t.Errorf("%q says %q", got, tt.notWant)
			}
		})
	}
}

// TestCLIAtTheStreamLimit: with every stream a client may hold open, `adjoin badge watch` from
// that client is refused with the limit named, not told the service is unreachable, and its
// other calls (`adjoin alerts`, `adjoin badge get`) still work.
func TestCLIAtTheStreamLimit(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range badge.DefaultMaxStreamsPerClient {
		stream, err := s.badges.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{Selectors: []*adjoinv1.EntitySelector{query("pgustavo")}})
		if err == nil {
			_, err = stream.Recv()
		}
		if err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
	}
	addr := "--badge-addr=" + s.GRPCAddr
	// Bounded: were it let through, the watch would print badges until stopped (exit 0).
	wctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	var out, errBuf bytes.Buffer
	code := Main(wctx, []string{"badge", "watch", addr, "pgustavo"}, &out, &errBuf)
	errOut := errBuf.String()
	if code != 1 || !strings.Contains(errOut, "(max-streams-per-client)") || !strings.Contains(errOut, "RESOURCE_EXHAUSTED") || strings.Contains(errOut, "unreachable") {
		t.Errorf("badge watch at the limit: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"alerts", addr, "pgustavo"}, {"badge", "get", addr, "pgustavo"}} {
		if out, errOut, code := run(t, args...); code != 0 {
			t.Errorf("%v at the stream limit: exit %d: %s%s", args, code, out, errOut)
		}
	}
}
