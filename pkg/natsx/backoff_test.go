package natsx

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{attempt: 0, want: 250 * time.Millisecond},
		{attempt: 1, want: 250 * time.Millisecond},
		{attempt: 2, want: 500 * time.Millisecond},
		{attempt: 3, want: time.Second},
		{attempt: 4, want: 2 * time.Second},
		{attempt: 5, want: 4 * time.Second},
		{attempt: 6, want: 5 * time.Second},
		{attempt: 1000, want: 5 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		delivered uint64
		want      time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {6, 32 * time.Second}, {1 << 40, 32 * time.Second}} {
		if got := RetryDelay(tt.delivered); got != tt.want {
			t.Errorf("RetryDelay(%d) = %s, want %s", tt.delivered, got, tt.want)
		}
	}
}
