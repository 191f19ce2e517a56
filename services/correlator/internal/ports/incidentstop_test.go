package ports_test

import (
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestIncidentBuilderStopReleasesPin stops a builder cleanly and starts another on the same
// durable: the new one must build the next incident well before the pinned TTL runs out, since
// the builder that stopped released its pin (without it the next one waited the whole TTL, and
// a restarted correlator built no incident for 30 s).
func TestIncidentBuilderStopReleasesPin(t *testing.T) {
	const ttl = 10 * time.Second
	r := newBuilderRig(t, shireIndex(0))
	first := r.builder(nil)
	first.PinnedTTL = ttl
	stopFirst := r.start(t, first)
	copies := []*adjoinv1.CorrelatedAlert{r.correlate(t, "a", keyPgustavo, user, builderT0)}
	r.wantIncident(t, "a", copies, "a") // the first builder is pinned and built it
	stopFirst()
	next := r.builder(nil)
	next.PinnedTTL = ttl
	r.run(t, next)
	start := time.Now()
	copies = append(copies, r.correlate(t, "b", keyPgustavo, user, builderT0.Add(50*time.Minute)))
	r.wantIncident(t, "a", copies, "a", "b")
	if took := time.Since(start); took > ttl/2 {
		t.Fatalf("the next builder built the incident after %s, want well within the pinned TTL (%s)", took, ttl)
	}
}
