package natsx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// followBatch is how many messages a follower asks the server for at a time. The KV watcher
// of nats.go (a push consumer under flow control, each message handed across two goroutines)
// spends more per entry than a whole index update; pulling large batches into one goroutine
// halves a million-entry load.
const followBatch = 4096

// Follow applies every entry of a KV bucket, the ones stored now and every later change, until
// ctx ends. It returns once the stored entries were applied, so a caller never serves from a
// half-loaded copy. The entries come from an ordered pull consumer on the bucket's stream,
// last revision per key first, then each change in order.
func Follow(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) error {
	bucket := kv.Bucket()
	cons, err := js.OrderedConsumer(ctx, "KV_"+bucket, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{kvPrefix(bucket) + ">"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", bucket, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(followBatch))
	if err != nil {
		return fmt.Errorf("watch %s: %w", bucket, err)
	}
	loaded := make(chan struct{})
	// Loaded at once when nothing was pending as the consumer was made (an empty bucket).
	info := cons.CachedInfo()
	initial := info == nil || info.NumPending > 0
	if !initial {
		close(loaded)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	go func() {
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					break
				}
				continue // the ordered consumer recreated itself after a gap or a missed heartbeat
			}
			e, pending, ok := kvEntry(bucket, m)
			if !ok {
				continue
			}
			apply(e)
			if initial && pending == 0 {
				initial = false
				close(loaded)
			}
		}
		if initial {
			close(loaded)
		}
	}()
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loading %s: %w", bucket, ctx.Err())
	}
}

// kvPrefix is the subject prefix of a bucket's keys.
func kvPrefix(bucket string) string { return "$KV." + bucket + "." }

// kvEntry is a bucket's message as a KV entry, with the messages still pending after it
// (false for a message that is none of the bucket's).
func kvEntry(bucket string, m jetstream.Msg) (jetstream.KeyValueEntry, uint64, bool) {
	md, err := m.Metadata()
	prefix := kvPrefix(bucket)
	subj := m.Subject()
	if err != nil || len(subj) <= len(prefix) {
		return nil, 0, false
	}
	e := &entry{bucket: bucket, key: subj[len(prefix):], value: m.Data(),
		revision: md.Sequence.Stream, created: md.Timestamp, delta: md.NumPending}
	if h := m.Headers(); len(h) > 0 {
		switch h.Get("KV-Operation") {
		case "DEL":
			e.op = jetstream.KeyValueDelete
		case "PURGE":
			e.op = jetstream.KeyValuePurge
		case "":
			switch h.Get(jetstream.MarkerReasonHeader) {
			case "MaxAge", "Purge":
				e.op = jetstream.KeyValuePurge
			case "Remove":
				e.op = jetstream.KeyValueDelete
			}
		}
	}
	return e, md.NumPending, true
}

// entry is one KV entry as Follow passes it on.
type entry struct {
	bucket, key     string
	value           []byte
	revision, delta uint64
	created         time.Time
	op              jetstream.KeyValueOp
}

func (e *entry) Bucket() string                  { return e.bucket }
func (e *entry) Key() string                     { return e.key }
func (e *entry) Value() []byte                   { return e.value }
func (e *entry) Revision() uint64                { return e.revision }
func (e *entry) Created() time.Time              { return e.created }
func (e *entry) Delta() uint64                   { return e.delta }
func (e *entry) Operation() jetstream.KeyValueOp { return e.op }

// Deleted reports whether a KV entry marks a deletion.
func Deleted(e jetstream.KeyValueEntry) bool {
	return e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
}
