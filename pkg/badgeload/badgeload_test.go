package badgeload

import (
	"context"
	"testing"

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
