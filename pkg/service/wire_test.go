package service

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// TestWiringEndsWhenTheConnectionClosesForGood: the connection closes for good while wiring
// still waits (a directory loading over NATS). The wiring's ctx ends at once with the cause,
// and Run returns it, instead of wiring until the caller's ctx ends, which may be never.
func TestWiringEndsWhenTheConnectionClosesForGood(t *testing.T) {
	s := natstest.Start(t)
	o := Options{Name: "svctest", NATS: natsx.Settings{ConnectOptions: natsx.ConnectOptions{URL: s.ClientURL()}, Replicas: 1}}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), o, zap.NewNop(), func(ctx context.Context, rt *Runtime) error {
			rt.NC.Close()
			select {
			case <-ctx.Done():
				return fmt.Errorf("wiring: %w", context.Cause(ctx))
			case <-time.After(20 * time.Second):
				return errors.New("wiring went on with the connection closed for good")
			}
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, natsx.ErrConnClosed) {
			t.Errorf("Run = %v, want an error wrapping ErrConnClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
}
