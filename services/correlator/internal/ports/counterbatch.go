package ports

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/consume"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/wire"
)

// recordGets bounds the revisions of adjoin_badges read at once before a batch's writes.
const recordGets = 16

// errFenced means another owner holds the partition, or wrote a record since this one last
// read or wrote it.
var errFenced = errors.New("fenced: another owner took the partition")

// fold handles one batch of a loaded partition: fold, publish the copies, write the changed
// records, then ack (see Counter for the ack rule).
func (o *owner) fold(ctx context.Context, b *consume.Batch) error {
	copies := natsx.NewBatchContext(ctx, o.c.JS)
	batch := make(map[string]struct{}) // the batch's entities
	var folded []jetstream.Msg
	var failure error
	for _, m := range b.Msgs {
		var c adjoinv1.CorrelatedAlert
		if err := wire.DecodeForCount(m.Headers().Get(natsx.HeaderType), m.Data(), &c); err != nil {
			b.Reject(m, "undecodable-count", err)
			continue
		}
		if why := checkCount(&c); why != "" {
			b.Reject(m, "undecodable-count", errors.New(why))
			continue
		}
		if meta, err := m.Metadata(); err == nil {
			o.lastSeq = max(o.lastSeq, meta.Sequence.Stream)
		}
		key := c.GetEntityKey()
		if o.ledger.Fold(&c) {
			o.dirty[key] = struct{}{}
		}
		batch[key] = struct{}{}
		o.sinceSnap++
		folded = append(folded, m)
		if failure != nil {
			continue
		}
		msg, err := correlatedCopy(m, &c, o.ledger.OtherSide(key, c.GetAlert().GetSide()))
		if err == nil {
			err = copies.Add(msg)
		}
		if err != nil {
			failure = fmt.Errorf("correlated copy: %w", err)
		}
	}
	if m := o.c.Metrics; m != nil {
		m.CounterFolded.Add(float64(len(folded)))
	}
	if len(folded) == 0 {
		return nil
	}
	werr := o.writeDirty(ctx, batch)
	if _, err := copies.Wait(ctx); err != nil && failure == nil {
		failure = err
	}
	switch {
	case errors.Is(werr, errFenced):
		o.log.Warn("another owner took this partition; dropping the state and reloading", logx.Err(werr))
		o.drop("fenced")
		for _, m := range folded {
			b.Later(m, 0)
		}
		return nil
	case werr != nil && failure == nil:
		failure = werr
	}
	if failure != nil {
		return fmt.Errorf("counting a batch: %w", failure)
	}
	b.Settle(nil) // acknowledged before the snapshot, which may take a while
	o.snapshot(ctx, false)
	return nil
}

// writeDirty writes dirty records, pipelined, each expecting the revision this owner last
// read or wrote, and waits for every acknowledgement. It returns errFenced
// when one write found another revision than the one this owner knows.
//
// A key whose revision this owner does not know yet is first written expecting no record
// (most keys are new: no read costs a round trip); if there is one, its revision is read
// and the record written again.
//
// The batch's own entities are written, and at most maxBacklog other dirty ones (what a load
// left to write, or a failed batch): a load that dirtied a whole partition is written over
// the following batches, none of them past its deadline.
func (o *owner) writeDirty(ctx context.Context, batch map[string]struct{}) error {
	keys := make([]string, 0, len(batch)+min(len(o.dirty), maxBacklog))
	for key := range batch {
		if _, ok := o.dirty[key]; ok {
			keys = append(keys, key)
		}
	}
	backlog := 0
	for key := range o.dirty {
		if backlog == maxBacklog {
			break
		}
		if _, ok := batch[key]; !ok {
			keys, backlog = append(keys, key), backlog+1
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// An owner that lost its pin learns it here rather than from a conflict: a record it never
	// wrote since its load has no revision of its own to be fenced with.
	if err := o.probePin(time.Second); err != nil {
		return err
	}
	guessed, err := o.writeRecords(ctx, keys, false)
	if err != nil || len(guessed) == 0 {
		return err
	}
	if err := o.learnRevisions(ctx, guessed); err != nil {
		return err
	}
	_, err = o.writeRecords(ctx, guessed, true)
	return err
}

// maxBacklog bounds the dirty records a batch writes beside its own entities'.
const maxBacklog = 4096

// writeRecords writes the records of keys once. Unless known is set, a key absent from revs
// is written expecting no record, and returned among guessed when there was one.
func (o *owner) writeRecords(ctx context.Context, keys []string, known bool) (guessed []string, err error) {
	type pending struct {
		key    string
		guess  bool
		future jetstream.PubAckFuture
	}
	var sent []pending
	var failure error
	now := timestamppb.New(time.Now())
	for _, key := range keys {
		rec := o.ledger.Record(key)
		if rec == nil {
			delete(o.dirty, key)
			continue
		}
		rev, ok := o.revs[key]
		if !ok && known {
			continue // learning its revision failed
		}
		rec.UpdatedTime = now
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
		if err != nil {
			failure = fmt.Errorf("record of %s: %w", key, err)
			break
		}
		msg := nats.NewMsg(recordSubject(key))
		msg.Data = data
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rev, 10))
		f, err := publishAsync(ctx, o.c.JS, msg)
		if err != nil {
			failure = fmt.Errorf("record of %s: %w", key, err)
			break
		}
		sent = append(sent, pending{key, !ok, f})
	}
	for _, p := range sent {
		select {
		case ack := <-p.future.Ok():
			o.revs[p.key] = ack.Sequence
			delete(o.dirty, p.key)
		case err := <-p.future.Err():
			switch {
			case isConflict(err) && p.guess:
				guessed = append(guessed, p.key)
			case isConflict(err):
				failure = fmt.Errorf("%w: %s: %w", errFenced, p.key, err)
			case !errors.Is(failure, errFenced):
				failure = fmt.Errorf("record of %s: %w", p.key, err)
			}
		case <-ctx.Done():
			if failure == nil {
				failure = fmt.Errorf("record of %s: %w", p.key, ctx.Err())
			}
		}
	}
	return guessed, failure
}

// recordSubject is the subject of key's record in adjoin_badges.
func recordSubject(key string) string { return "$KV." + natsx.BucketBadges + "." + key }

// learnRevisions reads the revision stored for each of keys (0 when there is no record), a few
// at a time.
func (o *owner) learnRevisions(ctx context.Context, unknown []string) error {
	if len(unknown) == 0 {
		return nil
	}
	if o.records == nil {
		s, err := o.c.JS.Stream(ctx, "KV_"+natsx.BucketBadges)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", natsx.BucketBadges, err)
		}
		o.records = s
	}
	revs := make([]uint64, len(unknown))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(recordGets)
	for i, key := range unknown {
		g.Go(func() error {
			// The last message of the key's subject, a delete marker included: what a write
			// expecting it is checked against.
			m, err := o.records.GetLastMsgForSubject(gctx, recordSubject(key))
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				return nil
			case err != nil:
				return fmt.Errorf("revision of %s: %w", key, err)
			}
			revs[i] = m.Sequence
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, key := range unknown {
		o.revs[key] = revs[i]
	}
	return nil
}

func (o *owner) badgesKV(ctx context.Context) (jetstream.KeyValue, error) {
	if o.badges == nil {
		kv, err := o.c.JS.KeyValue(ctx, natsx.BucketBadges)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", natsx.BucketBadges, err)
		}
		o.badges = kv
	}
	return o.badges, nil
}

// publishAsync publishes msg without waiting for its acknowledgement, waiting for a free slot
// while the client's async window is full, until ctx ends.
func publishAsync(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := js.PublishMsgAsync(msg)
		if err == nil || !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		}
	}
}

// isConflict reports whether err is JetStream refusing a write whose expected last subject
// sequence is not the stored one.
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
