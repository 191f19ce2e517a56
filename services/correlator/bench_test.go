package correlator_test

// Benchmarks of the correlator against the raw JetStream it runs on, on the same machine and
// the same embedded server (SyncAlways, as the shipped NATS configs set sync_interval: always).
// Run them with `make bench-go` from the repository root (`make bench` runs `adjoin bench`).
//
// Figures from `make bench-go` on the development VM: CPU "AMD EPYC" (/proc/cpuinfo; family 25
// model 1, Zen 3), 2 vCPUs (1 thread per core) under KVM, ext4 on a virtio disk where one 4 KiB
// O_DSYNC write takes ~0.5 ms; go1.26, nats-server v2.15.3 embedded. Disk-sync bound, so they
// vary between runs; two consecutive runs:
//
//	RawJetStream/sync=always     3317 | 2806 msgs/s  (publish 3519 | 2984/s, consume+ack 57854 | 47203/s)
//	RawJetStream/sync=default   31230 | 13238 msgs/s (publish 64554 | 21934/s, consume+ack 60499 | 33389/s)
//	Correlator/throughput        386 | 315 alerts/s; raw on the same server 2430 | 1408 msgs/s; ratio 0.16 | 0.22
//	Correlator/latency           publish->badge p50 2.3 | 3.7 ms, p99 8.3 | 18.7 ms (50 alerts/s)
//
// The correlator handles one alert at a time and each alert costs several synced writes (the
// badge record, the CORRELATED copy, and the incident builder's incident record and message),
// so it runs at a fraction of what the disk allows a raw stream.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator"
)

const benchUsers = 10000

// BenchmarkRawJetStream is the baseline: b.N messages the size of a marshalled alert, published
// asynchronously to a file-storage stream (waiting for every ack), then pulled and acknowledged.
func BenchmarkRawJetStream(b *testing.B) {
	for _, tc := range []struct {
		name       string
		syncAlways bool
	}{{"sync=always", true}, {"sync=default", false}} {
		b.Run(tc.name, func(b *testing.B) {
			_, js := startJetStream(b, tc.syncAlways)
			b.ResetTimer()
			r := rawRoundTrip(b, js, "RAW", b.N)
			b.StopTimer()
			b.ReportMetric(r.perSecond(), "msgs/s")
			b.ReportMetric(float64(b.N)/r.publish.Seconds(), "pub-msgs/s")
			b.ReportMetric(float64(b.N)/r.consume.Seconds(), "cons-msgs/s")
		})
	}
}

// BenchmarkCorrelator measures the in-process correlator on an embedded SyncAlways server with
// benchUsers users in the directory.
//
// throughput: b.N alerts are published before the correlator starts; the time is from Run to
// the "correlator" consumer having nothing pending or unacknowledged. The raw figure for the
// same number of messages on the same server is measured first, in the same process, and the
// ratio reported.
//
// latency: with the correlator running, b.N single alerts are published at a modest rate and
// the adjoin_badges bucket is watched for the update that counts each one.
func BenchmarkCorrelator(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		_, js := startJetStream(b, true)
		raw := rawRoundTrip(b, js, "RAW", b.N)
		users := putUsersAsync(b, js, benchUsers)
		rng := rand.New(rand.NewPCG(1, uint64(b.N)))
		msgs := make([]*nats.Msg, b.N)
		for i := range msgs {
			msgs[i] = benchAlertMsg(b, rng, fmt.Sprintf("b%d", i), users)
		}
		publishMsgs(b, js, msgs)

		b.ResetTimer()
		stop := runCorrelator(b, js)
		waitDrained(b, js, 10*time.Minute)
		elapsed := b.Elapsed()
		b.StopTimer()
		stop()

		checkCorrelatedCount(b, js, b.N)
		alertsPerSec := float64(b.N) / elapsed.Seconds()
		b.ReportMetric(alertsPerSec, "alerts/s")
		b.ReportMetric(raw.perSecond(), "raw-msgs/s")
		b.ReportMetric(alertsPerSec/raw.perSecond(), "ratio")
	})

	b.Run("latency", func(b *testing.B) {
		_, js := startJetStream(b, true)
		users := putUsersAsync(b, js, benchUsers)
		ctx := context.Background()
		badges, err := js.KeyValue(ctx, natsx.BucketBadges)
		if err != nil {
			b.Fatal(err)
		}
		stop := runCorrelator(b, js)
		defer stop()

		w, err := badges.WatchAll(ctx, jetstream.UpdatesOnly())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop() //nolint:errcheck // test cleanup

		rng := rand.New(rand.NewPCG(2, uint64(b.N)))
		latencies := make([]time.Duration, 0, b.N)
		const every = 20 * time.Millisecond // 50 alerts/s
		b.ResetTimer()
		for i := range b.N {
			id := fmt.Sprintf("l%d", i)
			user := users[rng.IntN(len(users))]
			a := testAlert(id, adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Severity_SEVERITY_HIGH, adjoinv1.AlertStatus_ALERT_STATUS_NEW, 1, time.Now(), user)
			msg, err := natsx.NewMsg(alertSubject(a.GetSide()), id+".v1", a)
			if err != nil {
				b.Fatal(err)
			}
			sent := time.Now()
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				b.Fatal(err)
			}
			latencies = append(latencies, waitBadge(b, w, user, id, 30*time.Second).Sub(sent))
			time.Sleep(time.Until(sent.Add(every)))
		}
		b.StopTimer()
		slices.Sort(latencies)
		b.ReportMetric(ms(percentile(latencies, 0.50)), "p50-ms")
		b.ReportMetric(ms(percentile(latencies, 0.99)), "p99-ms")
	})
}

// rawResult is one raw publish-then-consume round.
type rawResult struct {
	n                int
	publish, consume time.Duration
}

func (r rawResult) perSecond() float64 {
	return float64(r.n) / (r.publish + r.consume).Seconds()
}

// rawRoundTrip creates stream name (file storage) and pushes n alert-sized messages through it:
// async publish waiting for all acks, then a pull consumer acknowledging each message.
func rawRoundTrip(b *testing.B, js jetstream.JetStream, name string, n int) rawResult {
	b.Helper()
	ctx := context.Background()
	subject := "raw." + name
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	users := []string{"S-1-5-21-1-2-3-1000"}
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		msgs[i] = benchAlertMsg(b, rng, fmt.Sprintf("r%d", i), users)
		msgs[i].Subject = subject
	}
	start := time.Now()
	publishMsgs(b, js, msgs)
	published := time.Now()

	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1024, AckWait: 30 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < n; {
		// Never ask for more than is left: a pull for more waits out its whole MaxWait.
		batch, err := cons.Fetch(min(64, n-got), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for m := range batch.Messages() {
			var a adjoinv1.Alert
			if err := natsx.Decode(m.Headers(), m.Data(), &a); err != nil {
				b.Fatal(err)
			}
			if err := m.Ack(); err != nil {
				b.Fatal(err)
			}
			got++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			b.Fatal(err)
		}
	}
	// The last acks are fire-and-forget, as the correlator's are; wait until the server has them.
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return rawResult{n: n, publish: published.Sub(start), consume: time.Since(published)}
}

// benchAlertMsg is an alert on a random user, as an ingestor would publish it.
func benchAlertMsg(b *testing.B, rng *rand.Rand, id string, users []string) *nats.Msg {
	b.Helper()
	side := adjoinv1.Side_SIDE_IDENTITY
	if rng.IntN(2) == 1 {
		side = adjoinv1.Side_SIDE_ENDPOINT
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(200*24)) * time.Hour)
	a := testAlert(id, side, adjoinv1.Severity(1+rng.IntN(4)), adjoinv1.AlertStatus_ALERT_STATUS_NEW, 1, at, users[rng.IntN(len(users))])
	msg, err := natsx.NewMsg(alertSubject(side), id+".v1", a)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}

// publishMsgs publishes asynchronously, a window at a time, and waits for every ack.
func publishMsgs(b testing.TB, js jetstream.JetStream, msgs []*nats.Msg) {
	b.Helper()
	const window = 1000
	for len(msgs) > 0 {
		chunk := msgs[:min(window, len(msgs))]
		msgs = msgs[len(chunk):]
		futures := make([]jetstream.PubAckFuture, len(chunk))
		for i, m := range chunk {
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures[i] = f
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
}

// putUsersAsync fills the directory with n users through the bucket's subjects, asynchronously
// (a Put per entity would take a disk sync each, one after the other).
func putUsersAsync(b testing.TB, js jetstream.JetStream, n int) []string {
	b.Helper()
	keys := make([]string, n)
	msgs := make([]*nats.Msg, n)
	for i := range n {
		sid := fmt.Sprintf("S-1-5-21-1-2-3-%d", 1000+i)
		data, err := proto.Marshal(&adjoinv1.Entity{
			Key: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid,
			SamAccountName: fmt.Sprintf("user%d", i), NetbiosDomain: "LAB", DnsDomain: "lab.test",
		})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = &nats.Msg{Subject: "$KV." + natsx.BucketDirectory + "." + sid, Data: data}
		keys[i] = sid
	}
	publishMsgs(b, js, msgs)
	return keys
}

// runCorrelator starts correlator.Run on the server js is connected to; stop ends it and
// waits for it to return.
func runCorrelator(b *testing.B, js jetstream.JetStream) (stop func()) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := correlator.DefaultConfig()
	cfg.NATS.URL, cfg.Listener = js.Conn().ConnectedUrl(), ln
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- correlator.Run(ctx, cfg, zap.NewNop()) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("correlator.Run: %v", err)
		}
	}
}

// waitDrained polls the "correlator" consumer and the partition owners' consumers until none
// has anything pending or unacknowledged.
func waitDrained(b *testing.B, js jetstream.JetStream, within time.Duration) {
	b.Helper()
	ctx := context.Background()
	idle := func(stream, name string) bool {
		cons, err := js.Consumer(ctx, stream, name)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		done := idle(natsx.StreamAlerts, "correlator")
		for p := 0; done && p < natsx.DefaultPartitions; p++ {
			done = idle(natsx.StreamCounts, natsx.CounterDurable("correlator", p))
		}
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("ALERTS and COUNTS not drained within %s", within)
}

// checkCorrelatedCount makes sure the run did the work it is timed for.
func checkCorrelatedCount(b *testing.B, js jetstream.JetStream, want int) {
	b.Helper()
	stream, err := js.Stream(context.Background(), natsx.StreamCorrelated)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(natsx.SubjectCorrelatedUser+".*"))
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n != uint64(want) {
		b.Fatalf("CORRELATED holds %d user messages, want %d", n, want)
	}
}

// waitBadge returns when the badge of key first shows alert id.
func waitBadge(b *testing.B, w jetstream.KeyWatcher, key, id string, within time.Duration) time.Time {
	b.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-w.Updates():
			if e == nil || e.Key() != key {
				continue
			}
			at := time.Now()
			var ec adjoinv1.EntityCounts
			if err := natsx.Decode(nil, e.Value(), &ec); err != nil {
				b.Fatal(err)
			}
			for _, c := range ec.GetRecent() {
				if c.GetAlertId() == id {
					return at
				}
			}
		case <-timeout:
			b.Fatalf("badge of %s did not show alert %s within %s", key, id, within)
		}
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
