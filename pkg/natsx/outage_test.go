package natsx

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestIsOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("store refuses it"), false},
		{fmt.Errorf("waiting for acknowledgement of x: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("publish: %w", nats.ErrNoResponders), true},
		{nats.ErrConnectionClosed, true},
		{jetstream.ErrNoStreamResponse, true},
		{&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}, false},
		{nats.ErrMaxPayload, false},
	}
	for _, tt := range tests {
		if got := IsOutage(tt.err); got != tt.want {
			t.Errorf("IsOutage(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
