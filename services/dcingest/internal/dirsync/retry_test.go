package dirsync

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failures uint32
		want     time.Duration
	}{
		{time.Minute, 1, 5 * time.Second},
		{time.Minute, 2, 10 * time.Second},
		{time.Minute, 4, 40 * time.Second},
		{time.Minute, 7, 5 * time.Minute},
		{time.Minute, 1000, 5 * time.Minute},
		{time.Second, 1, time.Second},
		{time.Second, 3, 4 * time.Second},
		{time.Hour, 100, time.Hour},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.interval, tt.failures); got != tt.want {
			t.Errorf("retryDelay(%s, %d) = %s, want %s", tt.interval, tt.failures, got, tt.want)
		}
	}
}
