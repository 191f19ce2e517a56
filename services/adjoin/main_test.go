package adjoin

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets this package's test binary stand in for the adjoin binary in the one role a
// test needs it as a child process: `adjoin bench` (TestBenchQuick) runs its minimal gRPC
// server as `<its own executable> bench-minimal-server`, and under `go test` that executable
// is this test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == BenchMinimalCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
