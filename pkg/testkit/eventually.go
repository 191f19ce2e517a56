package testkit

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually tries again: short beside the seconds tests wait, long
// enough not to busy a core shared with the servers under test.
const pollEvery = 20 * time.Millisecond

// Eventually calls f until it returns nil, and fails the test with f's last error once within
// has passed: the bounded retry that stands in for a sleep where a test waits for something
// asynchronous (a KV watch, a consumer, a service starting).
func Eventually(t testing.TB, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(pollEvery)
	}
}
