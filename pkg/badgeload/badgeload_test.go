package badgeload

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestCallMinimal(t *testing.T) {
	t.Parallel()
	resp := &adjoinv1.GetBadgeResponse{Badge: &adjoinv1.Badge{Identity: &adjoinv1.SideBadge{Total: 1}}}
	client, stop, err := StartMinimal(resp)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	reqs := []*adjoinv1.GetBadgeRequest{{Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: "S-1-5-21-1-2-3-1104"}}}}
	lat, took, err := Call(context.Background(), client, reqs, 50, 4)
	if err != nil || len(lat) != 50 || took <= 0 {
		t.Fatalf("Call: %d latencies in %s, %v", len(lat), took, err)
	}
	for i, l := range lat {
		if l <= 0 {
			t.Fatalf("call %d has no latency", i)
		}
	}
}

func TestRoundShare(t *testing.T) {
	t.Parallel()
	sum := 0
	for r := range 10 {
		sum += RoundShare(1003, 10, r)
	}
	if sum != 1003 || RoundShare(1003, 10, 0) != 101 || RoundShare(1003, 10, 9) != 100 {
		t.Errorf("shares of 1003 in 10 rounds add up to %d", sum)
	}
}

// TestServeMinimal serves the minimal server as `adjoin bench` runs it in a process of its
// own, checks it answers with the badge it was given, and that it returns once ctx ends.
func TestServeMinimal(t *testing.T) {
	t.Parallel()
	resp := &adjoinv1.GetBadgeResponse{Badge: &adjoinv1.Badge{Identity: &adjoinv1.SideBadge{Total: 7}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeMinimal(ctx, ln, resp) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := adjoinv1.NewBadgeServiceClient(conn).GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{})
	if err != nil || got.GetBadge().GetIdentity().GetTotal() != 7 {
		t.Fatalf("GetBadge = %v, %v; want the identity total 7", got, err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeMinimal after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMinimal still serving 10s after its context ended")
	}
}
