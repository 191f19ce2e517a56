package ports

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// TestNATSCode: only an outage is UNAVAILABLE; a limit, a missing stream and a corrupt record
// each have their own code, wrapped as the adapters wrap them.
func TestNATSCode(t *testing.T) {
	undecodable := proto.Unmarshal([]byte("\xff\xff not protobuf"), &timestamppb.Timestamp{})
	if undecodable == nil {
		t.Fatal("garbage decoded")
	}
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"stream consumer limit", jetstream.ErrMaximumConsumersLimit, codes.ResourceExhausted},
		{"account consumer limit, as the server sends it", &jetstream.APIError{Code: 400, ErrorCode: 10026, Description: "maximum consumers limit reached"}, codes.ResourceExhausted},
		{"insufficient resources", &jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, codes.ResourceExhausted},
		{"no leader", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream cluster not available"}, codes.Unavailable},
		{"JetStream off", jetstream.ErrJetStreamNotEnabled, codes.Unavailable},
		{"stream missing", jetstream.ErrStreamNotFound, codes.FailedPrecondition},
		{"other API refusal", &jetstream.APIError{Code: 400, ErrorCode: 10138, Description: "consumer subject filters cannot overlap"}, codes.Internal},
		{"connection closed", nats.ErrConnectionClosed, codes.Unavailable},
		{"no responders", nats.ErrNoResponders, codes.Unavailable},
		{"request timeout", nats.ErrTimeout, codes.Unavailable},
		{"iterator closed under the call", jetstream.ErrMsgIteratorClosed, codes.Unavailable},
		{"undecodable record", undecodable, codes.DataLoss},
		{"record of another type", natsx.ErrWrongType, codes.DataLoss},
		{"anything else", errors.New("something new"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, err := range []error{tt.err, fmt.Errorf("follow CORRELATED: %w", tt.err)} {
				if got := natsCode(err); got != tt.want {
					t.Errorf("natsCode(%v) = %s, want %s", err, got, tt.want)
				}
			}
		})
	}
}
