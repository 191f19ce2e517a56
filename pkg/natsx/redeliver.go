package natsx

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivered is how many times m has been delivered, this time included (1 when the metadata
// cannot be read).
func Delivered(m jetstream.Msg) uint64 {
	if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 0 {
		return meta.NumDelivered
	}
	return 1
}

// RetryDelay is how long a message that failed at its delivered-th delivery waits before the
// next: 1s after the first, doubling up to 32s.
func RetryDelay(delivered uint64) time.Duration {
	return time.Second << min(max(delivered, 1)-1, 5)
}
