package correlator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/correlator"
)

// pinnedPartitions lists the COUNTS partitions whose consumer is pinned to a client.
func pinnedPartitions(t *testing.T, s *natstest.Server) ([]int, error) {
	t.Helper()
	var pinned []int
	for p := range natsx.DefaultPartitions {
		cons, err := s.JS.Consumer(context.Background(), natsx.StreamCounts, natsx.CounterDurable("correlator", p))
		if err != nil {
			return nil, err
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			return nil, err
		}
		for _, g := range info.PriorityGroups {
			if g.PinnedClientID != "" {
				pinned = append(pinned, p)
			}
		}
	}
	return pinned, nil
}

// checkStoppedCleanly fails unless Run's stop went through the runtime's whole shutdown: every
// partition owner released its pin, and the connection was drained and closed (the server
// no longer lists it) before Run returned.
func checkStoppedCleanly(t *testing.T, s *natstest.Server) {
	t.Helper()
	pinned, err := pinnedPartitions(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pinned) > 0 {
		t.Errorf("partitions %v still pinned after Run returned: the owners did not release them", pinned)
	}
	conns, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns.Conns {
		if c.Name == "adjoin-"+correlator.Name {
			t.Errorf("connection %s still open after Run returned", c.Name)
		}
	}
}

// waitPinned waits until at least one partition is owned, so that checkStoppedCleanly tests
// a release.
func waitPinned(t *testing.T, s *natstest.Server) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		pinned, err := pinnedPartitions(t, s)
		if err == nil && len(pinned) == 0 {
			err = fmt.Errorf("no partition pinned")
		}
		return err
	})
}
