package directory

import (
	"sync"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/protobuf/proto"
)

// Index maps every name of every directory entity to its key. It is safe for concurrent use.
type Index struct {
	// OnChange, when set before Follow, is called with the key of every entity the directory
	// bucket adds, changes or removes.
	OnChange func(key string)

	mu      sync.RWMutex
	byKey   map[string]*adjoinv1.Entity
	names   map[nameKind]map[string]string // normalised name -> entity key
	bareSAM map[string]map[string]struct{} // sam -> keys, for names given without a domain
	version uint64                         // bumped on every change
	byKind  map[adjoinv1.EntityKind]int
}

type nameKind int

const (
	nameSID nameKind = iota
	nameGUID
	nameDomainSAM
	nameUPN
	nameFQDN
	nameNetBIOS
	nameDN
)

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{
		byKey:   map[string]*adjoinv1.Entity{},
		names:   map[nameKind]map[string]string{},
		bareSAM: map[string]map[string]struct{}{},
	}
	for k := nameSID; k <= nameDN; k++ {
		ix.names[k] = map[string]string{}
	}
	return ix
}

// Put adds or replaces an entity, dropping the names its previous version had.
func (ix *Index) Put(e *adjoinv1.Entity) {
	key := entity.Key(e)
	if key == "" {
		return
	}
	e = proto.Clone(e).(*adjoinv1.Entity)
	e.Key = key
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.byKey[key]; ok {
		ix.unindex(key, old)
		ix.byKind[old.GetKind()]--
	}
	if ix.byKind == nil {
		ix.byKind = map[adjoinv1.EntityKind]int{}
	}
	ix.byKind[e.GetKind()]++
	ix.byKey[key] = e
	ix.version++
	for kind, names := range namesOf(e) {
		for _, n := range names {
			ix.names[kind][n] = key
		}
	}
	if sam := entity.Fold(e.GetSamAccountName()); sam != "" {
		if ix.bareSAM[sam] == nil {
			ix.bareSAM[sam] = map[string]struct{}{}
		}
		ix.bareSAM[sam][key] = struct{}{}
	}
}

// Delete removes the entity with key.
func (ix *Index) Delete(key string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.byKey[key]; ok {
		ix.unindex(key, old)
		delete(ix.byKey, key)
		ix.byKind[old.GetKind()]--
		ix.version++
	}
}

// Version changes whenever an entity is added, changed or removed, so a caller can tell that
// references which failed to resolve before are worth trying again.
func (ix *Index) Version() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.version
}

func (ix *Index) unindex(key string, e *adjoinv1.Entity) {
	for kind, names := range namesOf(e) {
		for _, n := range names {
			if ix.names[kind][n] == key {
				delete(ix.names[kind], n)
			}
		}
	}
	if sam := entity.Fold(e.GetSamAccountName()); sam != "" {
		delete(ix.bareSAM[sam], key)
		if len(ix.bareSAM[sam]) == 0 {
			delete(ix.bareSAM, sam)
		}
	}
}

// Get returns the entity with key.
func (ix *Index) Get(key string) (*adjoinv1.Entity, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e, ok := ix.byKey[key]
	return e, ok
}

// Len is the number of entities indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byKey)
}

// namesOf lists the normalised names an entity can be found by. DOMAIN\sam is indexed under
// both the NetBIOS and the DNS domain name, since sensors write either.
func namesOf(e *adjoinv1.Entity) map[nameKind][]string {
	out := map[nameKind][]string{}
	add := func(k nameKind, v string) {
		if v != "" {
			out[k] = append(out[k], v)
		}
	}
	add(nameSID, entity.NormalizeSID(e.GetSid()))
	add(nameGUID, entity.NormalizeGUID(e.GetObjectGuid()))
	if sam := e.GetSamAccountName(); sam != "" {
		if d := e.GetNetbiosDomain(); d != "" {
			add(nameDomainSAM, entity.DomainSAM(d, sam))
		}
		if d := e.GetDnsDomain(); d != "" {
			add(nameDomainSAM, entity.DomainSAM(d, sam))
		}
	}
	add(nameUPN, entity.Fold(e.GetUpn()))
	add(nameDN, NormalizeDN(e.GetDistinguishedName()))
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		nb, fqdn := entity.HostNames(e.GetDnsHostName())
		add(nameFQDN, fqdn)
		if n, _ := entity.HostNames(e.GetNetbiosName()); n != "" {
			nb = n
		}
		if nb == "" {
			nb, _ = entity.HostNames(e.GetSamAccountName())
		}
		add(nameNetBIOS, nb)
	}
	return out
}

// Keys returns the keys of every entity, in no particular order.
func (ix *Index) Keys() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	keys := make([]string, 0, len(ix.byKey))
	for k := range ix.byKey {
		keys = append(keys, k)
	}
	return keys
}

// CountKind returns how many entities of kind the index holds.
func (ix *Index) CountKind(kind adjoinv1.EntityKind) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.byKind[kind]
}
