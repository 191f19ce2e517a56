package directory

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Index maps every name of every directory entity to the entity. It is safe for concurrent
// use.
//
// It is built to hold a million entities in a few hundred bytes each, without a pointer per
// entity or per name for the garbage collector to scan: fixed-size records in one slice, their
// strings in one byte arena, repeated strings interned, and one open-addressing table from the
// hash of each name to a record index (see record, nameTable). Entities are built afresh on
// the way out (Get, Resolve): callers own what they get and must not expect the same pointer
// twice.
type Index struct {
	// OnChange, when set before Follow, is called with the key of every entity the directory
	// bucket adds, changes or removes.
	OnChange func(key string)
	// Snapshots, when set before Follow, holds directory snapshots (natsx.BucketDirectorySnapshot):
	// the first load starts from the latest usable one instead of reading every entry.
	Snapshots jetstream.ObjectStore

	mu          sync.RWMutex
	recs        []record
	free        []uint32 // indexes of deleted records, reused first
	arena       []byte
	garbage     int // arena bytes of deleted and replaced records
	compactions int
	strs        interner
	names       nameTable
	live        int
	version     uint64 // bumped on every change
	byKind      map[adjoinv1.EntityKind]int
	domains     map[string]int // entities per folded domain name (domains.go)
	scratch     []byte         // names being indexed, under mu

	bulk       bool          // Follow is loading: names wait in pending (bulk.go)
	pending    []pendingName // names not indexed yet
	sorted     []pendingName // pending in table order, reused
	hasPending atomic.Bool   // len(pending) > 0, readable without mu
	dec        flat          // the entity being decoded, under mu

	testArenaLimit int // when > 0, the arena's limit instead of maxArena (tests)
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		strs:   newInterner(),
		names:  newNameTable(maphash.MakeSeed(), 0),
		byKind: map[adjoinv1.EntityKind]int{},
	}
}

// grow makes room for n entities in all, so that loading a bucket whose size is known does not
// copy the index as it grows. Following the bucket again after a reconnect asks for the same
// room and gets nothing more.
func (ix *Index) grow(n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n <= ix.live {
		return
	}
	ix.reserveRecs(n)
	ix.reserveArena((n - ix.live) * arenaPerEntity)
	ix.names.grow(n * namesPerEnt)
}

// minRecs is the least room reserveRecs makes when the records outgrow their array.
const minRecs = 256

// reserveRecs makes room for n records in all. Every new array of records is made here, so
// that each is advised for huge pages (adviseHuge) before it is written, also when a directory
// outgrows the room its first load made. Called with mu held.
func (ix *Index) reserveRecs(n int) {
	if n <= cap(ix.recs) {
		return
	}
	recs := make([]record, len(ix.recs), n)
	adviseHuge(recs)
	copy(recs, ix.recs)
	ix.recs = recs
}

// Put adds or replaces an entity, dropping the names its previous version had. An entity
// without a SID or objectGUID has no key and is ignored. ErrFull (wrapped) when the index
// cannot hold the entity's strings: the entity, and its previous version, are left as they were.
func (ix *Index) Put(e *adjoinv1.Entity) error {
	f := flat{
		kind: int32(e.GetKind()), sid: e.GetSid(), guid: e.GetObjectGuid(),
		sam: e.GetSamAccountName(), nbDomain: e.GetNetbiosDomain(), dnsDomain: e.GetDnsDomain(),
		upn: e.GetUpn(), host: e.GetDnsHostName(), nbName: e.GetNetbiosName(),
		display: e.GetDisplayName(), dn: e.GetDistinguishedName(), source: e.GetSource(),
		spns: e.GetServicePrincipalNames(), memberOf: e.GetMemberOf(),
		privileged: e.GetPrivileged(), disabled: e.GetDisabled(), uac: e.GetUserAccountControl(),
	}
	if w := e.GetWhenChanged(); w != nil {
		f.hasWhen, f.whenSec, f.whenNanos = true, w.GetSeconds(), w.GetNanos()
	}
	key := f.key()
	if key == "" {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.put(key, &f)
}

// put stores f under key, reusing the record of the entity it replaces. Called with mu held.
func (ix *Index) put(key string, f *flat) error {
	if err := ix.makeRoom(f.arenaSize()); err != nil {
		return fmt.Errorf("entity %s: %w", key, err)
	}
	var i uint32
	ok := false
	if !ix.bulk { // a bulk load finds rewritten keys when it sweeps (bulk.go)
		i, ok = ix.lookupKey(key)
	}
	if ok {
		ix.unindex(i)
	} else if n := len(ix.free); n > 0 {
		i = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		i = uint32(len(ix.recs))
		if len(ix.recs) == cap(ix.recs) {
			ix.reserveRecs(max(minRecs, cap(ix.recs)+cap(ix.recs)/4))
		}
		ix.recs = append(ix.recs, record{})
	}
	ix.encode(&ix.recs[i], f)
	ix.byKind[adjoinv1.EntityKind(f.kind)]++
	ix.live++
	ix.version++
	ix.eachName(i, func(kind nameKind, name []byte) {
		h := ix.names.hashBytes(kind, name)
		if ix.bulk {
			ix.queue(kind, h, i) // see bulk.go
			return
		}
		ix.setName(kind, h, i, name)
	})
	if len(ix.pending) >= pendingChunk {
		ix.flush()
	}
	ix.compactIfWasteful()
	return nil
}

// unindex drops record i's names (those that still point at it) and releases its strings.
func (ix *Index) unindex(i uint32) {
	ix.eachName(i, func(kind nameKind, name []byte) {
		ix.names.remove(ix.names.hashBytes(kind, name), i)
	})
	r := &ix.recs[i]
	ix.byKind[adjoinv1.EntityKind(r.kind)]--
	ix.live--
	ix.release(r)
}

// Delete removes the entity with key.
func (ix *Index) Delete(key string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.flush() // the key may be queued (bulk.go)
	if i, ok := ix.lookupKey(key); ok {
		ix.unindex(i)
		ix.free = append(ix.free, i)
		ix.version++
		ix.compactIfWasteful()
	}
}

// Version changes whenever an entity is added, changed or removed, so a caller can tell that
// references which failed to resolve before are worth trying again.
func (ix *Index) Version() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.version
}

// lookup returns the record a name of kind points at. Called with mu held.
func (ix *Index) lookup(kind nameKind, name string) (uint32, bool) {
	if name == "" {
		return 0, false
	}
	return ix.names.find(ix.names.hashString(kind, name), func(i uint32) bool { return ix.hasName(i, kind, name) })
}

// lookupKey returns the record of the entity with key: an objectGUID names the entity keyed
// by it; a SID is a key only for an entity without objectGUID.
func (ix *Index) lookupKey(key string) (uint32, bool) {
	if canonicalGUID(key) {
		return ix.lookup(nameGUID, key)
	}
	return ix.lookup(nameSIDKey, key)
}

// Get returns the entity with key, built afresh.
func (ix *Index) Get(key string) (*adjoinv1.Entity, bool) {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	i, ok := ix.lookupKey(key)
	if !ok {
		return nil, false
	}
	return ix.entity(i), true
}

// Has tells whether an entity with key is indexed, without building it.
func (ix *Index) Has(key string) bool {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.lookupKey(key)
	return ok
}

// Len is the number of entities indexed.
func (ix *Index) Len() int {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

// Keys returns the keys of every entity, in no particular order.
func (ix *Index) Keys() []string {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	keys := make([]string, 0, ix.live)
	var buf []byte
	for i := range ix.recs {
		r := &ix.recs[i]
		if r.flags&fLive == 0 {
			continue
		}
		if r.flags&fGUID != 0 {
			buf = appendGUID(buf[:0], &r.guid)
		} else {
			f := ix.fields(r)
			buf, _ = ix.appendSID(buf[:0], r, &f)
		}
		keys = append(keys, string(buf))
	}
	return keys
}

// CountKind returns how many entities of kind the index holds.
func (ix *Index) CountKind(kind adjoinv1.EntityKind) int {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.byKind[kind]
}
