package app

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// MaxBatch is the most selectors one BatchGetBadges takes.
const MaxBatch = 500

// ErrBatchSize means a batch is empty or larger than MaxBatch.
var ErrBatchSize = errors.New("batch size")

// overflow is the result of a selector whose badge did not fit in the answer.
func overflow() *adjoinv1.BadgeResult {
	return &adjoinv1.BadgeResult{Result: &adjoinv1.BadgeResult_Error{Error: &adjoinv1.BadgeError{
		Code:    int32(codes.ResourceExhausted),
		Message: "not sent: the results before it fill the 4 MiB an answer may hold; ask for it again",
	}}}
}

// Batch returns one result per selector: the badge, or the error GetBadge would have given.
// The answer stays under MaxAnswerBytes whatever the entities hold (a directory entity with
// thousands of groups is large): a result that would not fit, with room kept for the rest to
// be refused too, is a RESOURCE_EXHAUSTED error of its own, so the caller keeps what fitted and
// asks again for the others.
func (b *Badges) Batch(ctx context.Context, sels []*adjoinv1.EntitySelector) ([]*adjoinv1.BadgeResult, error) {
	if len(sels) == 0 || len(sels) > MaxBatch {
		return nil, fmt.Errorf("%w: %d selectors, want 1 to %d", ErrBatchSize, len(sels), MaxBatch)
	}
	out := make([]*adjoinv1.BadgeResult, len(sels))
	used, overflowSize := 0, elementSize(overflow())
	for i, sel := range sels {
		badge, err := b.Get(ctx, sel)
		switch {
		case err == nil:
			out[i] = &adjoinv1.BadgeResult{Result: &adjoinv1.BadgeResult_Badge{Badge: badge}}
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidSelector):
			code := codes.NotFound
			if errors.Is(err, ErrInvalidSelector) {
				code = codes.InvalidArgument
			}
			out[i] = &adjoinv1.BadgeResult{Result: &adjoinv1.BadgeResult_Error{Error: &adjoinv1.BadgeError{Code: int32(code), Message: err.Error()}}}
		default:
			return nil, err
		}
		size := elementSize(out[i])
		if used+size+(len(sels)-i-1)*overflowSize > MaxAnswerBytes-answerReserve {
			out[i], size = overflow(), overflowSize
		}
		used += size
	}
	return out, nil
}

// MaxStreamSelectors is the most entities one stream (WatchBadges, StreamCorrelated) names: a
// stream keeps its selection for as long as it lasts and works through it on every change, and
// StreamCorrelated makes each a filter of a NATS consumer, whose whole configuration must fit
// in one NATS message (1 MB by default, about 14,000 subjects). adjoin bench watches 1,000.
const MaxStreamSelectors = 5000

// CheckSelectors refuses more than MaxStreamSelectors selectors for a stream (none is fine:
// every entity).
func CheckSelectors(n int) error {
	if n > MaxStreamSelectors {
		return fmt.Errorf("%w: %d selectors, want at most %d", ErrBatchSize, n, MaxStreamSelectors)
	}
	return nil
}

// Resolve returns the directory entity sel names, with ErrNotFound or ErrInvalidSelector.
func (b *Badges) Resolve(sel *adjoinv1.EntitySelector) (*adjoinv1.Entity, error) {
	m, err := b.Index.Find(sel)
	if err != nil {
		return nil, err
	}
	if m.Entity == nil {
		return nil, notFound(m)
	}
	return m.Entity, nil
}

// notFound is ErrNotFound for a selector that matched nothing, naming what was tried.
func notFound(m directory.Match) error { return fmt.Errorf("%w (tried %v)", ErrNotFound, m.Tried) }
