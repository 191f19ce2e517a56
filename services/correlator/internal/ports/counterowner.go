package ports

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/consume"
	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// pinHeader carries, on every message of a pinned consumer, the id of the client it is
// pinned to: a new id means this client lost the partition in between and got it back.
const pinHeader = "Nats-Pin-Id"

// owner is one partition's state in this instance: loaded while the instance owns the
// partition, dropped when it learns it may not.
type owner struct {
	c   *Counter
	p   int
	log *zap.Logger

	ledger *counts.Ledger // nil: not loaded
	pin    string         // the pin id the state was loaded under
	// revs is, per key, the revision of adjoin_badges this owner last read or wrote (0: the
	// key had no record); a key absent from revs is read once before its first write. Only
	// the ledger's entities are written, so revs holds at most one entry per entity.
	revs map[string]uint64
	// dirty are the entities whose record differs from the last one this owner stored: kept
	// until a write of theirs is acknowledged, so a failed batch does not lose them (its
	// redelivery folds nothing new).
	dirty map[string]struct{}
	// lastSeq is the highest COUNTS sequence folded; every message of the partition before it
	// was folded too (first deliveries come in stream order).
	lastSeq   uint64
	sinceSnap int // messages folded since the last snapshot
	lastSnap  time.Time
	// unheldReported, unheldWarned and heldReported are what reportUnheld and snapshot last
	// told the metrics and the log.
	unheldReported uint64
	unheldWarned   time.Time
	heldReported   int

	badges  jetstream.KeyValue
	records jetstream.Stream // the stream under adjoin_badges
	snaps   jetstream.ObjectStore
}

func newOwner(c *Counter, p int) *owner {
	return &owner{c: c, p: p, log: c.Log.With(zap.Int("partition", p))}
}

// owned reports whether the state is loaded.
func (o *owner) owned() bool { return o.ledger != nil }

// drop forgets the state, which may be stale: the next messages load it again.
func (o *owner) drop(why string) {
	if o.ledger == nil {
		return
	}
	o.log.Info("partition state dropped", zap.String("reason", why))
	o.ledger, o.pin, o.revs, o.dirty = nil, "", nil, nil
	if m := o.c.Metrics; m != nil {
		m.CounterPartitions.Dec()
		m.CounterHeld.Sub(float64(o.heldReported))
	}
	o.unheldReported, o.heldReported = 0, 0
}

// keepPin keeps the partition pinned to this client while it works on a load or a batch
// longer than PinnedTTL (see probePin). Without it, a load longer than PinnedTTL would lose
// the pin and start again, forever.
func (o *owner) keepPin(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := max(o.c.PinnedTTL/4, 100*time.Millisecond)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_ = o.probePin(every)
		}
	}()
	return func() { cancel(); <-done }
}

// probePin sends the partition's durable a pull request carrying this owner's pin id, which
// restarts the server's pin timer; asking for at most 1 byte without waiting, it never
// receives a message. It returns errFenced when the server answers that another client holds
// the pin (423), nil on any other answer or none.
func (o *owner) probePin(timeout time.Duration) error {
	req, _ := json.Marshal(map[string]any{"batch": 1, "max_bytes": 1, "no_wait": true, "group": counterGroup, "id": o.pin})
	subject := apiPrefix(o.c.JS) + "CONSUMER.MSG.NEXT." + natsx.StreamCounts + "." + natsx.CounterDurable(o.c.Durable, o.p)
	reply, err := o.c.JS.Conn().Request(subject, req, timeout)
	if err == nil && reply.Header.Get("Status") == "423" {
		return fmt.Errorf("%w: the partition is pinned to another client", errFenced)
	}
	return nil
}

// apiPrefix is the subject prefix of js's JetStream API requests.
func apiPrefix(js jetstream.JetStream) string {
	opts := js.Options()
	switch {
	case opts.APIPrefix != "":
		return strings.TrimSuffix(opts.APIPrefix, ".") + "."
	case opts.Domain != "":
		return "$JS." + opts.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

// handle folds one fetched batch, loading the state first when this instance has just become
// the owner.
func (o *owner) handle(ctx context.Context, b *consume.Batch) error {
	pin := ""
	for _, m := range b.Msgs {
		if id := m.Headers().Get(pinHeader); id != "" {
			pin = id
		}
	}
	if o.owned() && pin != "" && pin != o.pin {
		o.drop("pinned again after losing the pin")
	}
	if pin != "" {
		o.pin = pin
	}
	defer o.keepPin(ctx)()
	if !o.owned() {
		if err := o.load(ctx); err != nil {
			if ctx.Err() == nil {
				o.log.Warn("loading the partition state failed; will retry", logx.Err(err))
			}
			for _, m := range b.Msgs {
				b.Later(m, time.Second)
			}
			return nil
		}
	}
	// Finish the batch even if shutdown begins, within a deadline shorter than AckWait that
	// starts after the load.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.c.AckWait*2/3)
	defer cancel()
	return o.fold(hctx, b)
}

// checkCount reports why a decoded COUNTS message cannot be counted, or "". An alert id is at
// most counts.MaxIDBytes (what stage 1 accepts), an entity key at most counts.MaxKeyBytes
// (entity.MaxKeyLen) of a KV key's characters, without an empty token.
func checkCount(c *adjoinv1.CorrelatedAlert) string {
	switch id := c.GetAlert().GetId(); {
	case id == "":
		return "no alert"
	case len(id) > counts.MaxIDBytes:
		return "alert id too long"
	}
	switch key := c.GetEntityKey(); {
	case key == "":
		return "no entity key"
	case len(key) > counts.MaxKeyBytes || !recordKey(key):
		return "entity key not usable as a record key"
	}
	return ""
}

// recordKey reports whether key is a usable key of a KV bucket: [-/_=.a-zA-Z0-9], not
// starting or ending with a dot, no two dots in a row.
func recordKey(key string) bool {
	for i := range len(key) {
		switch b := key[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '/', b == '_', b == '=':
		case b == '.':
			if i == 0 || i == len(key)-1 || key[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isComputer reports whether a COUNTS subject (counts.<p>.<kind>.<key>) is a computer's.
func isComputer(subject string) bool {
	parts := strings.SplitN(subject, ".", 4)
	return len(parts) == 4 && parts[2] == "computer"
}
