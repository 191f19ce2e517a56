package directory

import (
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// loader applies the entries of a bucket's initial load in two stages on two goroutines, so
// that a start uses two cores: the watcher's goroutine decodes each entry (protowire, UTF-8,
// the SID and objectGUID normalised) into a batch, and the indexer's goroutine puts the
// batches into the index in the order they came, then reports each change. Once the load is
// complete (finish), entries are applied one by one as they arrive, as before.
type loader struct {
	ix  *Index
	log *zap.Logger

	mu     sync.Mutex // held by apply and finish: an entry applied at once never overtakes a batch
	active bool
	batch  *loadBatch
	full   chan *loadBatch // decoded, in order
	free   chan *loadBatch // indexed, to be reused: loadBatches in all, so memory stays bounded
	done   chan struct{}
}

const (
	loadBatchSize = 256 // entries per batch: one channel hand-over per 256 entities
	loadBatches   = 8   // batches in flight: at most 2,048 entries' bytes held
)

type loadBatch struct{ items []loadItem }

// loadItem is one entry, decoded. f views the entry's bytes, which entry keeps alive.
type loadItem struct {
	entry   jetstream.KeyValueEntry
	deleted bool
	key     string // the entity's key ("" for none: ignored)
	f       flat
	err     error // the entry could not be decoded
}

// startLoader starts the indexer's goroutine; finish ends it.
func startLoader(ix *Index, log *zap.Logger) *loader {
	l := &loader{ix: ix, log: log, active: true,
		full: make(chan *loadBatch, loadBatches), free: make(chan *loadBatch, loadBatches), done: make(chan struct{})}
	for range loadBatches {
		l.free <- &loadBatch{items: make([]loadItem, 0, loadBatchSize)}
	}
	go l.run()
	return l
}

// apply decodes entry into the current batch, or applies it at once after finish.
func (l *loader) apply(entry jetstream.KeyValueEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.active {
		l.ix.apply(entry, l.log)
		return
	}
	if l.batch == nil {
		l.batch = <-l.free // waits while the indexer is loadBatches behind
	}
	b := l.batch
	b.items = b.items[:len(b.items)+1]
	it := &b.items[len(b.items)-1]
	it.entry, it.deleted = entry, natsx.Deleted(entry)
	if !it.deleted {
		if it.err = decodeEntity(entry.Value(), &it.f); it.err == nil {
			it.key = it.f.key()
		}
	}
	if len(b.items) == loadBatchSize {
		l.full <- b
		l.batch = nil
	}
}

// run indexes batches until finish closes full.
func (l *loader) run() {
	defer close(l.done)
	for b := range l.full {
		for i := range b.items {
			it := &b.items[i]
			l.ix.applyDecoded(it.entry.Key(), it.deleted, it.key, &it.f, it.err, l.log)
			it.f.reset()
			*it = loadItem{f: it.f}
		}
		b.items = b.items[:0]
		l.free <- b
	}
}

// finish indexes what is left of the load and waits for it: from then on entries are applied
// as they arrive.
func (l *loader) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.active {
		return
	}
	if l.batch != nil && len(l.batch.items) > 0 {
		l.full <- l.batch
	}
	l.batch = nil
	close(l.full)
	<-l.done
	l.active = false
}
