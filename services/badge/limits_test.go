package badge_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
)

// from dials the service from a loopback address of its own (Linux answers on all of
// 127.0.0.0/8), so that the service sees another client.
func (h *harness) from(t *testing.T, ip string) adjoinv1.BadgeServiceClient {
	t.Helper()
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return d.DialContext(ctx, "tcp", addr)
	}
	return adjoinv1.NewBadgeServiceClient(h.dial(t, grpc.WithContextDialer(dialer),
		grpc.WithTransportCredentials(insecure.NewCredentials())))
}

// openStream opens a stream of the kind given and returns once the service answered on it
// (its first message, or its error), and a function that hangs it up. A stream that sends
// nothing within 5s is hung up, and ends with CANCELED.
func openStream(t *testing.T, ctx context.Context, client adjoinv1.BadgeServiceClient, watch bool) (func(), error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	timer := time.AfterFunc(5*time.Second, cancel)
	defer timer.Stop()
	var err error
	if watch {
		var s adjoinv1.BadgeService_WatchBadgesClient
		if s, err = client.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{Selectors: []*adjoinv1.EntitySelector{bySID(keyPgustavo)}}); err == nil {
			_, err = s.Recv()
		}
	} else {
		var s adjoinv1.BadgeService_StreamCorrelatedClient
		if s, err = client.StreamCorrelated(ctx, &adjoinv1.StreamCorrelatedRequest{}); err == nil {
			_, err = s.Recv()
		}
	}
	return cancel, err
}

// refused checks that err is RESOURCE_EXHAUSTED naming the limit by its flag.
func refused(err error, flag string) error {
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "("+flag+")") {
		return fmt.Errorf("got %s %q, want %s naming %s", status.Code(err), status.Convert(err).Message(), codes.ResourceExhausted, flag)
	}
	return nil
}

// TestStreamLimits: one client cannot hold more than its share of streams, nor all clients
// together more than the total; a client at its limit leaves others unaffected, and gets its
// place back when it hangs up a stream.
func TestStreamLimits(t *testing.T) {
	t.Parallel()
	h := startBadge(t, func(c *badge.Config) { c.MaxStreamsPerClient, c.MaxStreams = 3, 5 })
	h.stored(t, keyPgustavo, 1) // so that StreamCorrelated has a first message to send
	ctx := context.Background()
	a, b, c := h.from(t, "127.0.0.1"), h.from(t, "127.0.0.2"), h.from(t, "127.0.0.3")

	var hangUps []func()
	for i, watch := range []bool{true, false, true} { // both kinds count
		hangUp, err := openStream(t, ctx, a, watch)
		if err != nil {
			t.Fatalf("client A stream %d: %v", i+1, err)
		}
		hangUps = append(hangUps, hangUp)
	}
	for _, watch := range []bool{true, false} {
		if _, err := openStream(t, ctx, a, watch); refused(err, "max-streams-per-client") != nil {
			t.Errorf("client A's 4th stream (watch %v): %v", watch, refused(err, "max-streams-per-client"))
		}
	}
	// Another connection from the same address is the same client.
	if _, err := openStream(t, ctx, h.client, true); refused(err, "max-streams-per-client") != nil {
		t.Errorf("client A's new connection: %v", refused(err, "max-streams-per-client"))
	}
	if _, err := h.client.GetBadge(rpcCtx(t), &adjoinv1.GetBadgeRequest{Selector: bySID(keyPgustavo)}); err != nil {
		t.Errorf("client A's unary call: %v", err)
	}
	for i := range 2 {
		if _, err := openStream(t, ctx, b, i == 0); err != nil {
			t.Fatalf("client B stream %d while A is at its limit: %v", i+1, err)
		}
	}
	if _, err := openStream(t, ctx, c, true); refused(err, "max-streams") != nil {
		t.Errorf("client C with 5 streams open in all: %v", refused(err, "max-streams"))
	}

	hangUps[0]()
	testkit.Eventually(t, 5*time.Second, func() error {
		_, err := openStream(t, ctx, c, true)
		return err
	})
	if _, err := openStream(t, ctx, a, true); refused(err, "max-streams") != nil {
		t.Errorf("client A once C took the free place: %v", refused(err, "max-streams"))
	}
}

// TestStreamLimitsPerToken: when callers are checked, a client is its token, whatever its
// address: two senders behind one proxy have a limit each.
func TestStreamLimitsPerToken(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, t.TempDir(), "tokens", []byte("read portal\nread siem\n"))
	h := startBadge(t, func(c *badge.Config) {
		c.Security.TokensFile = tokens
		c.MaxStreamsPerClient = 2
	})
	h.stored(t, keyPgustavo, 1) // so that StreamCorrelated has a first message to send
	portal := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer portal")
	siem := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer siem")
	for i := range 2 {
		if _, err := openStream(t, portal, h.client, true); err != nil {
			t.Fatalf("portal stream %d: %v", i+1, err)
		}
	}
	if _, err := openStream(t, portal, h.client, true); refused(err, "max-streams-per-client") != nil {
		t.Errorf("portal's 3rd stream: %v", refused(err, "max-streams-per-client"))
	}
	if _, err := openStream(t, siem, h.client, true); err != nil {
		t.Errorf("siem's first stream, from the same address: %v", err)
	}
	// Refused callers take no place.
	for range 3 {
		if _, err := openStream(t, context.Background(), h.client, true); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("no token: %v, want %s", err, codes.Unauthenticated)
		}
	}
	if _, err := openStream(t, siem, h.client, false); err != nil {
		t.Errorf("siem's second stream: %v", err)
	}
}

// TestStreamSelectorBound: a stream names at most 5,000 entities (a stream keeps its selection
// for as long as it lasts); one entity named many times is one filter.
func TestStreamSelectorBound(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	h.stored(t, keyPgustavo, 1)
	tests := []struct {
		name     string
		n        int
		wantCode codes.Code
	}{
		{"5,000 selectors", 5000, codes.OK},
		{"5,001 selectors", 5001, codes.InvalidArgument},
	}
	for _, tt := range tests {
		for _, watch := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s watch %v", tt.name, watch), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				sels := repeat(bySID(keyPgustavo), tt.n)
				var err error
				if watch {
					var s adjoinv1.BadgeService_WatchBadgesClient
					if s, err = h.client.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{Selectors: sels}); err == nil {
						_, err = s.Recv()
					}
				} else {
					var s adjoinv1.BadgeService_StreamCorrelatedClient
					if s, err = h.client.StreamCorrelated(ctx, &adjoinv1.StreamCorrelatedRequest{Selectors: sels}); err == nil {
						_, err = s.Recv()
					}
				}
				if got := status.Code(err); got != tt.wantCode {
					t.Errorf("code %s (%v), want %s", got, err, tt.wantCode)
				}
			})
		}
	}
}

// TestWatchesOfAllBounded: watches of every entity have a bound of their own (each holds the
// state of the whole directory); at that bound a watch of selected entities still opens, and
// a place comes back when a watch of every entity hangs up.
func TestWatchesOfAllBounded(t *testing.T) {
	t.Parallel()
	h := startBadge(t, func(c *badge.Config) { c.MaxWatchesOfAll = 2 })
	watchAll := func() (func(), error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		s, err := h.client.WatchBadges(ctx, &adjoinv1.WatchBadgesRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		return cancel, err
	}
	var hangUps []func()
	for i := range 2 {
		hangUp, err := watchAll()
		if err != nil {
			t.Fatalf("watch of every entity %d: %v", i+1, err)
		}
		hangUps = append(hangUps, hangUp)
	}
	if _, err := watchAll(); refused(err, "max-watches-of-all") != nil {
		t.Errorf("a third watch of every entity: %v", refused(err, "max-watches-of-all"))
	}
	if _, err := openStream(t, context.Background(), h.client, true); err != nil {
		t.Errorf("a watch of one entity beside them: %v", err)
	}
	hangUps[0]()
	testkit.Eventually(t, 5*time.Second, func() error {
		_, err := watchAll()
		return err
	})
}
