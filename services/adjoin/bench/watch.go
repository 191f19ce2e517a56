package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// badgeWatch follows the badges of sampled users through the badge service's WatchBadges and
// notes when each first shows an alert: each sampled user gets exactly one alert in its phase,
// so that moment is when the sampled alert became visible through the API.
type badgeWatch struct {
	mu      sync.Mutex
	want    int
	seen    map[string]time.Time // entity key -> first badge with an alert
	allSeen chan struct{}
	failed  chan struct{} // closed with err set when the watch broke
	err     error
	cancel  func()
}

// watchSamples opens the watch and returns once the initial badge of every user arrived.
func watchSamples(ctx context.Context, client adjoinv1.BadgeServiceClient, users []int) (*badgeWatch, error) {
	sels := make([]*adjoinv1.EntitySelector, len(users))
	for i, u := range users {
		sels[i] = &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userSID(u)}}
	}
	wctx, cancel := context.WithCancel(ctx)
	stream, err := client.WatchBadges(wctx, &adjoinv1.WatchBadgesRequest{Selectors: sels})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("WatchBadges: %w", err)
	}
	w := &badgeWatch{want: len(users), seen: map[string]time.Time{}, allSeen: make(chan struct{}), failed: make(chan struct{}), cancel: cancel}
	for range users {
		resp, err := stream.Recv()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("WatchBadges initial state: %w", err)
		}
		if n := total(resp.GetBadge()); n != 0 {
			cancel()
			return nil, fmt.Errorf("sampled user %s already has %d alerts", resp.GetBadge().GetEntity().GetKey(), n)
		}
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				if wctx.Err() == nil {
					w.mu.Lock()
					w.err = fmt.Errorf("WatchBadges: %w", err)
					w.mu.Unlock()
					close(w.failed)
				}
				return
			}
			at := time.Now()
			if total(resp.GetBadge()) == 0 {
				continue
			}
			w.mu.Lock()
			key := resp.GetBadge().GetEntity().GetKey()
			if _, ok := w.seen[key]; !ok {
				w.seen[key] = at
				if len(w.seen) == w.want {
					close(w.allSeen)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w, nil
}

func total(b *adjoinv1.Badge) int64 { return b.GetIdentity().GetTotal() + b.GetEndpoint().GetTotal() }

// wait returns the time each key was first seen with an alert, once all were, and stops the
// watch.
func (w *badgeWatch) wait(ctx context.Context, within time.Duration) (map[string]time.Time, error) {
	defer w.cancel()
	select {
	case <-w.allSeen:
	case <-w.failed:
		w.mu.Lock()
		defer w.mu.Unlock()
		return nil, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(within):
		w.mu.Lock()
		defer w.mu.Unlock()
		return nil, errors.Join(fmt.Errorf("%d of %d sampled alerts visible through the badge service after %s", len(w.seen), w.want, within), w.err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen, nil
}

// percentile of sorted durations, in milliseconds.
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]) / float64(time.Millisecond)
}

func sortedDurations(d []time.Duration) []time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d
}
