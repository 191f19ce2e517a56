package ports

import (
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// JetStream API error codes that mean a server limit was reached rather than a fault: maximum
// consumers (per stream or account), insufficient resources (10023), storage resources
// exceeded (10047); nats.go names only the first.
var exhausted = map[jetstream.ErrorCode]bool{jetstream.JSErrCodeMaximumConsumersLimit: true, 10023: true, 10047: true}

// outages are the NATS errors of a lost or unready server: the caller may retry, here or at
// another instance. Only these are UNAVAILABLE, so that a client (and `adjoin`) can tell a
// service that is down from one that refuses the request.
var outages = []error{
	nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrConnectionReconnecting,
	nats.ErrDisconnected, nats.ErrNoServers, nats.ErrNoResponders, nats.ErrTimeout, nats.ErrStaleConnection,
	jetstream.ErrConnectionClosed, jetstream.ErrServerShutdown, jetstream.ErrNoHeartbeat,
	jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount, jetstream.ErrNoStreamResponse,
	jetstream.ErrConsumerLeadershipChanged,
	// A stream's iterator closed by the client library while the call goes on: its
	// connection closed.
	jetstream.ErrMsgIteratorClosed,
}

// natsCode is the gRPC code of an error of the NATS side (or of what it stored).
func natsCode(err error) codes.Code {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch {
		case exhausted[api.ErrorCode]:
			return codes.ResourceExhausted
		case api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled, api.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabledForAccount,
			api.Code == 503:
			return codes.Unavailable
		case api.ErrorCode == jetstream.JSErrCodeStreamNotFound:
			// The deployment is not provisioned (or was wiped): not something a retry fixes.
			return codes.FailedPrecondition
		}
		return codes.Internal
	}
	for _, o := range outages {
		if errors.Is(err, o) {
			return codes.Unavailable
		}
	}
	if errors.Is(err, proto.Error) || errors.Is(err, natsx.ErrWrongType) {
		return codes.DataLoss // a stored record that does not decode
	}
	return codes.Internal
}
