package natsx

import (
	"context"
	"time"
)

// RequestTimeout bounds one JetStream API request (a lookup, a consumer's creation or info)
// made by a loop that runs for the life of a service. Under the service's own context such a
// request waits for its answer for ever, and a cluster's leader change can leave it without
// one: chaos scenario 3 saw a partition owner wait minutes in a consumer lookup. Bounded, the
// request fails, and the loop tries again.
const RequestTimeout = 10 * time.Second

// RequestContext is ctx bounded by RequestTimeout, for one JetStream API request.
func RequestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, RequestTimeout)
}
