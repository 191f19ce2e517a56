package badge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/badgeload"
	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// syntheticUsers is how many users beyond the Shire lab the benchmark directory holds.
const syntheticUsers = 10_000

// BenchmarkGetBadge measures GetBadge of badge.Run on a loopback listener (the Shire directory
// plus 10k synthetic users, each with counts, half with a device record) and, in the same run
// and with the same requests, of a minimal gRPC server returning a fixed badge. Each
// sub-benchmark runs b.N calls against each, from c concurrent callers on one connection, and
// reports per server the QPS and the p50 and p99 latency, and the adjoin/minimal ratios. ns/op
// is adjoin's wall time per call.
//
//	make bench-badge
func BenchmarkGetBadge(b *testing.B) {
	h := benchService(b)
	sels := make([]*adjoinv1.GetBadgeRequest, syntheticUsers)
	for i := range sels {
		sels[i] = &adjoinv1.GetBadgeRequest{Selector: bySID(syntheticSID(i))}
	}
	// The minimal server returns a real badge, so both answers are the same size.
	sample, err := h.get(b, sels[1].GetSelector())
	if err != nil {
		b.Fatal(err)
	}
	if n := sample.GetIdentity().GetTotal() + sample.GetEndpoint().GetTotal(); n != 2 {
		b.Fatalf("badge of a synthetic user with %d alerts, want 2: the view is not loaded", n)
	}
	minimal := startMinimal(b, &adjoinv1.GetBadgeResponse{Badge: sample})
	servers := []struct {
		name   string
		client adjoinv1.BadgeServiceClient
	}{{"adjoin", h.client}, {"minimal", minimal}}
	for _, s := range servers { // warm up connections and caches
		if _, err := measure(2000, 16, s.client, sels); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
	}

	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			// Interleaved in rounds, alternating which goes first, so that a change of load on
			// the machine weighs on both alike.
			var lat [2][]time.Duration
			var elapsed [2]time.Duration
			const rounds = 10
			for r := range rounds {
				n := badgeload.RoundShare(b.N, rounds, r)
				for k := range servers {
					i := (k + r) % 2
					res, err := measure(n, c, servers[i].client, sels)
					if err != nil {
						b.Fatalf("%s: %v", servers[i].name, err)
					}
					lat[i] = append(lat[i], res.lat...)
					elapsed[i] += res.elapsed
				}
			}
			got := [2]result{summarise(lat[0], elapsed[0]), summarise(lat[1], elapsed[1])}
			a, m := got[0], got[1]
			b.ReportMetric(float64(a.elapsed.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(a.qps, "adjoin-qps")
			b.ReportMetric(us(a.p50), "adjoin-p50-us")
			b.ReportMetric(us(a.p99), "adjoin-p99-us")
			b.ReportMetric(m.qps, "minimal-qps")
			b.ReportMetric(us(m.p50), "minimal-p50-us")
			b.ReportMetric(us(m.p99), "minimal-p99-us")
			b.ReportMetric(a.qps/m.qps, "qps-ratio")
			b.ReportMetric(us(a.p50)/us(m.p50), "p50-ratio")
			b.ReportMetric(us(a.p99)/us(m.p99), "p99-ratio")
		})
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

type result struct {
	lat      []time.Duration
	elapsed  time.Duration
	qps      float64
	p50, p99 time.Duration
}

func summarise(lat []time.Duration, elapsed time.Duration) result {
	slices.Sort(lat)
	n := len(lat)
	return result{lat: lat, elapsed: elapsed, qps: float64(n) / elapsed.Seconds(), p50: lat[n/2], p99: lat[(n*99)/100]}
}

// measure makes n GetBadge calls from conc goroutines and times each.
func measure(n, conc int, client adjoinv1.BadgeServiceClient, reqs []*adjoinv1.GetBadgeRequest) (result, error) {
	lat, elapsed, err := badgeload.Call(context.Background(), client, reqs, n, conc)
	return result{lat: lat, elapsed: elapsed}, err
}

func syntheticSID(i int) string { return fmt.Sprintf("%s-%d", shireDomainSID, 20_000+i) }

// benchService fills the buckets (asynchronously, as a sync would) and then starts the
// service, so its view loads them all before it serves.
func benchService(b *testing.B) *harness {
	b.Helper()
	s := natstest.Start(b)
	h := &harness{nats: s, directory: s.KV(b, natsx.BucketDirectory), badges: s.KV(b, natsx.BucketBadges),
		devices: s.KV(b, natsx.BucketDevices), config: s.KV(b, natsx.BucketConfig)}
	for _, e := range shire() {
		h.put(b, h.directory, e.GetKey(), e)
	}
	put := func(bucket, key string, m proto.Message) {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.JS.PublishAsync("$KV."+bucket+"."+key, data); err != nil {
			b.Fatal(err)
		}
	}
	sides := []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT}
	for i := range syntheticUsers {
		key := syntheticSID(i)
		sam := fmt.Sprintf("user%05d", i)
		put(natsx.BucketDirectory, key, &adjoinv1.Entity{Key: key, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: key,
			SamAccountName: sam, NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: sam + "@theshire.local",
			DisplayName: "User " + sam})
		ec := &adjoinv1.EntityCounts{EntityKey: key}
		for a := range 1 + i%5 {
			counts.Apply(ec, &adjoinv1.Alert{Id: fmt.Sprintf("%s-%d", sam, a), Side: sides[a%2], Version: 1,
				Severity: adjoinv1.Severity(1 + a%4), Status: adjoinv1.AlertStatus(1 + a%3),
				FirstActivity: at(a, 0), LastActivity: at(a, 30)}, key)
		}
		put(natsx.BucketBadges, key, ec)
		if i%2 == 0 {
			put(natsx.BucketDevices, key, &adjoinv1.DeviceRecord{Key: key, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER,
				Account: `THESHIRE\` + sam, OnboardingStatus: "implicit", EdrDeviceId: "dev-" + sam})
		}
	}
	select {
	case <-s.JS.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("seeding the buckets did not complete within a minute")
	}
	start := time.Now()
	h.run(b, nil)
	b.Logf("badge.Run served after %s with %d entities", time.Since(start).Round(time.Millisecond), syntheticUsers+len(shire()))
	return h
}

// startMinimal serves the minimal BadgeService until the benchmark ends.
func startMinimal(b *testing.B, resp *adjoinv1.GetBadgeResponse) adjoinv1.BadgeServiceClient {
	b.Helper()
	client, stop, err := badgeload.StartMinimal(resp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return client
}
