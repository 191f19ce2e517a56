package domain_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"google.golang.org/protobuf/proto"
)

type oracleSource struct {
	*fakeSource
	counts map[string]*adjoinv1.EntityCounts
}

func (s oracleSource) Counts(_ context.Context, key string) (*adjoinv1.EntityCounts, error) {
	if ec, ok := s.counts[key]; ok {
		return ec, nil
	}
	return &adjoinv1.EntityCounts{EntityKey: key}, nil
}

func TestOracle(t *testing.T) {
	kinds := map[string]int{}
	defer func() { t.Logf("reasons and truncations seen: %v", kinds) }()
	ents := []string{keyPgustavo, keySbeavers, keyWardog, keyMordorDC, keyWS5, keyWS6}
	for round := range 300 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		src := newFakeSource()
		os := oracleSource{src, map[string]*adjoinv1.EntityCounts{}}
		l := domain.NewLogons(0)
		for i := range rng.IntN(4) {
			users := []string{"pgustavo", "sbeavers", "wardog"}
			hosts := []string{"WORKSTATION5.theshire.local", "WORKSTATION6.theshire.local"}
			u := rng.IntN(3)
			l.Observe(logon4624(hosts[rng.IntN(2)], "THESHIRE", users[u], []string{keyPgustavo, keySbeavers, keyWardog}[u], "-", windowT0.Add(time.Duration(rng.IntN(600))*time.Minute+time.Duration(i)*time.Second)))
		}
		n := 3 + rng.IntN(40)
		type pl struct {
			a           *adjoinv1.Alert
			keys, links []string
		}
		var all []pl
		for i := range n {
			id := fmt.Sprintf("a%02d", i)
			at := windowT0.Add(time.Duration(rng.IntN(600)) * time.Minute)
			a := identity(id, at)
			if rng.IntN(2) == 0 {
				a = endpoint(id, at)
			}
			a.Severity = adjoinv1.Severity(1 + rng.IntN(4))
			var keys, links []string
			for _, k := range ents {
				if rng.IntN(4) == 0 {
					keys = append(keys, k)
					if rng.IntN(3) > 0 {
						links = append(links, k)
					}
				}
			}
			if len(keys) == 0 {
				keys = []string{ents[rng.IntN(len(ents))]}
			}
			if rng.IntN(5) == 0 && i > 0 {
				// A new version, or a redelivery of the last, resolved as before.
				prev := all[rng.IntN(len(all))]
				a.Id, a.Version, keys, links = prev.a.GetId(), prev.a.GetVersion()+int64(rng.IntN(2)), prev.keys, prev.links
				if a.Version == prev.a.GetVersion() {
					a = prev.a
				}
			}
			all = append(all, pl{a, keys, links})
			for _, k := range keys {
				if os.counts[k] == nil {
					os.counts[k] = &adjoinv1.EntityCounts{EntityKey: k}
				}
				counts.Apply(os.counts[k], a, links...)
			}
			src.window.Add(windowAlert(a, keys, links))
		}
		maxAlerts := 0
		if rng.IntN(3) == 0 {
			maxAlerts = 1 + rng.IntN(8)
		}
		window := time.Duration(10+rng.IntN(120)) * time.Minute
		old := &oldGrouper{Window: window, MaxAlerts: maxAlerts, Logons: l, Source: os}
		nw := &domain.Grouper{Window: window, MaxAlerts: maxAlerts, Logons: l, Source: src, Alerts: src.window}
		for _, p := range all {
			for _, seedKeys := range [][]string{p.keys, p.links} {
				want, err := old.Group(context.Background(), p.a.GetId(), seedKeys)
				if err != nil {
					t.Fatal(err)
				}
				got := nw.Group(p.a.GetId(), seedKeys)
				for _, r := range got.GetReasons() {
					kinds[r.GetKind()]++
				}
				if got.GetTruncated() {
					kinds["truncated"]++
				}
				if !proto.Equal(want, got) {
					t.Fatalf("round %d seed %s keys %v:\n old %v\n new %v", round, p.a.GetId(), seedKeys, want, got)
				}
			}
		}
	}
}
