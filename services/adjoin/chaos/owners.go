package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// PartitionState is what the consumer of one COUNTS partition says at one instant.
type PartitionState struct {
	// Pin is the id of the client the partition is pinned to ("" when none): it changes when
	// another client, or another life of the same instance, takes the partition over.
	Pin string
	// Pending is what is left to deliver, AckPending what an owner holds unacknowledged.
	Pending, AckPending uint64
	// Deliveries counts every delivery, redeliveries included.
	Deliveries uint64
}

// PartitionStates reads the consumer of each of n COUNTS partitions of the correlator whose
// ALERTS durable is durable; a consumer not created yet reads as a zero state.
func PartitionStates(ctx context.Context, js jetstream.JetStream, durable string, n int) ([]PartitionState, error) {
	out := make([]PartitionState, n)
	for p := range n {
		c, err := js.Consumer(ctx, natsx.StreamCounts, natsx.CounterDurable(durable, p))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		s := PartitionState{Pending: info.NumPending, AckPending: uint64(info.NumAckPending), Deliveries: info.Delivered.Consumer}
		for _, g := range info.PriorityGroups {
			s.Pin = g.PinnedClientID
		}
		out[p] = s
	}
	return out, nil
}

// Metric returns the sum of the samples of the metric name that the service's /metrics
// exposes (0 when it exposes none).
func (s *Service) Metric(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s /metrics: %s", s.Name, resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s /metrics: %q: %w", s.Name, line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// CheckRecordSizes reads every record stored in adjoin_badges (every revision the bucket
// keeps) and reports those over limit bytes; it returns the largest size seen.
func CheckRecordSizes(ctx context.Context, js jetstream.JetStream, limit int) (largest int, problems []string, err error) {
	over := 0
	err = ReadStream(ctx, js, "KV_"+natsx.BucketBadges, "", func(m jetstream.Msg) error {
		n := len(m.Data())
		largest = max(largest, n)
		if n > limit {
			if over++; over <= 5 {
				problems = append(problems, fmt.Sprintf("%s: %d bytes", m.Subject(), n))
			}
		}
		return nil
	})
	if over > 5 {
		problems = append(problems, fmt.Sprintf("... %d records over %d bytes in all", over, limit))
	}
	return largest, problems, err
}
