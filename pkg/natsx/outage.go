package natsx

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IsOutage reports whether err says NATS could not answer in time or at all (a publish or a KV
// write not acknowledged before its deadline, no responders, a connection that is down, a
// stream or cluster not available), as opposed to a refusal of what was sent. A message whose
// handling failed with an outage is not at fault: consumers hand it back without counting the
// attempt towards giving it up, so an overloaded or restarting server never sends good
// messages to DEADLETTER.
func IsOutage(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders,
		nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrDisconnected, nats.ErrConnectionReconnecting,
		jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat, jetstream.ErrAsyncPublishTimeout} {
		if errors.Is(err, target) {
			return true
		}
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code == 503
}
