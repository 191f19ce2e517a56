package natsx

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AckWait is how long every adjoin consumer waits for the acknowledgement of a delivery
// before JetStream delivers it again; each message's handling gets a deadline shorter than it.
const AckWait = 30 * time.Second

// MaxDeliveries is the delivery at which a message whose handling still fails is given up and
// dead-lettered, unless a consumer is configured otherwise (--max-deliveries).
const MaxDeliveries = 10

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
