package testkit_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit"
)

func TestEventuallyRetriesUntilNil(t *testing.T) {
	calls := 0
	testkit.Eventually(t, time.Minute, func() error {
		if calls++; calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("f called %d times, want 3", calls)
	}
}

// recorder is a testing.TB that records Fatalf instead of stopping the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r) // Fatalf does not return; Eventually must not go on after it
}

func TestEventuallyFailsWithTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	calls := 0
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		testkit.Eventually(r, 50*time.Millisecond, func() error {
			calls++
			return errors.New("not yet")
		})
	}()
	if r.failed != "still failing after 50ms: not yet" {
		t.Fatalf("failure %q, want the last error after the bound", r.failed)
	}
	if calls < 2 {
		t.Fatalf("f called %d times within the bound, want retries", calls)
	}
}
