package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FollowStream is Follow with a faster initial load, for large buckets: the stored entries come
// through an ordered pull consumer on the bucket's stream in large batches (one pass over the
// stream, no flow-control stalls), then a watch resumed from the revision after the last one
// loaded applies every later change. Follow's contract holds: it returns once every entry stored
// when it was called is applied, deletes and purges included, and no change is lost or applied
// out of order between the load and the watch.
func FollowStream(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("status %s: %w", kv.Bucket(), err)
	}
	if st.Values() == 0 {
		return Follow(ctx, kv, apply) // nothing to load in bulk; the plain watch is as fast
	}
	last, err := loadStream(ctx, js, kv, st, apply)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx, jetstream.ResumeFromRevision(last+1))
	if err != nil {
		return fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	return follow(ctx, kv, w, apply)
}

// loadBatch is how many messages the load asks for at a time: large enough that the server
// never waits for the next request, small enough to bound the client's buffer.
const loadBatch = 8192

// loadStream applies the bucket's current entries and returns the revision of the last one.
// With a history of one, the stream holds only the current entries, so it is read in order from
// the start, which the server serves without a per-subject lookup; otherwise the last entry of
// each key.
func loadStream(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, st jetstream.KeyValueStatus, apply func(jetstream.KeyValueEntry)) (uint64, error) {
	policy := jetstream.DeliverLastPerSubjectPolicy
	if st.History() == 1 {
		policy = jetstream.DeliverAllPolicy
	}
	prefix := "$KV." + kv.Bucket() + "."
	cons, err := js.OrderedConsumer(ctx, "KV_"+kv.Bucket(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"},
		DeliverPolicy:  policy,
	})
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", kv.Bucket(), err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(loadBatch))
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", kv.Bucket(), err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop) // Next does not take a context
	defer stop()
	// The stream's message count bounds the load when writes keep coming: entries written
	// after the start are the watch's, in order, once the load hands over.
	want, got := st.Values(), uint64(0)
	var last uint64
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("loading %s: %w", kv.Bucket(), ctx.Err())
			}
			return 0, fmt.Errorf("loading %s: %w", kv.Bucket(), err)
		}
		md, err := m.Metadata()
		if err != nil {
			return 0, fmt.Errorf("loading %s: %w", kv.Bucket(), err)
		}
		e := &streamEntry{bucket: kv.Bucket(), msg: m, md: md}
		if len(m.Subject()) > len(prefix) {
			e.key = m.Subject()[len(prefix):]
			apply(e)
		}
		last, got = md.Sequence.Stream, got+1
		if md.NumPending == 0 || got >= want {
			return last, nil
		}
	}
}

// follow applies w's entries until ctx ends and returns once its initial ones are applied.
func follow(ctx context.Context, kv jetstream.KeyValue, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) error {
	loaded := make(chan struct{})
	go func() {
		defer w.Stop() //nolint:errcheck // nothing to do on a failed stop at shutdown
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			apply(e)
		}
		if initial {
			close(loaded)
		}
	}()
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loading %s: %w", kv.Bucket(), ctx.Err())
	}
}

// streamEntry is a KV entry read straight from the bucket's stream.
type streamEntry struct {
	bucket, key string
	msg         jetstream.Msg
	md          *jetstream.MsgMetadata
}

var _ jetstream.KeyValueEntry = (*streamEntry)(nil)

func (e *streamEntry) Bucket() string     { return e.bucket }
func (e *streamEntry) Key() string        { return e.key }
func (e *streamEntry) Value() []byte      { return e.msg.Data() }
func (e *streamEntry) Revision() uint64   { return e.md.Sequence.Stream }
func (e *streamEntry) Created() time.Time { return e.md.Timestamp }
func (e *streamEntry) Delta() uint64      { return e.md.NumPending }

// Operation reads the KV operation header the way the KV watcher does, including the markers
// the server writes when a per-message TTL removes an entry.
func (e *streamEntry) Operation() jetstream.KeyValueOp {
	h := e.msg.Headers()
	if len(h) == 0 {
		return jetstream.KeyValuePut
	}
	switch h.Get("KV-Operation") {
	case "DEL":
		return jetstream.KeyValueDelete
	case "PURGE":
		return jetstream.KeyValuePurge
	case "":
		switch h.Get(jetstream.MarkerReasonHeader) {
		case "MaxAge", "Purge":
			return jetstream.KeyValuePurge
		case "Remove":
			return jetstream.KeyValueDelete
		}
	}
	return jetstream.KeyValuePut
}
