package directory

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"unsafe"
)

// record is one entity in fixed size and without pointers, so a million of them are one
// allocation the garbage collector does not scan. Identifiers are stored as numbers (the SID as
// its interned domain SID and RID, the objectGUID as 16 bytes), repeated strings (domain names,
// source, the DN's parent, group DNs) as interned ids, and the rest as length-prefixed strings
// at off in the index's arena. A value that would not come back byte for byte from its compact
// form (a SID in lower case, a braced GUID, a RID written with leading zeros) is kept as
// written in the arena too: Get returns exactly what Put was given.
type record struct {
	guid      [16]byte
	whenSec   int64
	off       uint32 // start of the record's strings in the arena
	size      uint32 // their length
	rid       uint32
	domainSID uint32 // interned
	nbDomain  uint32 // interned
	dnsDomain uint32 // interned
	source    uint32 // interned
	dnParent  uint32 // interned; the arena holds the first RDN
	uac       uint32
	whenNanos int32
	kind      int32
	flags     uint16
}

const (
	fLive        uint16 = 1 << iota
	fSIDCompact         // the normalised SID is domainSID + "-" + rid
	fSIDNorm            // the arena holds the normalised SID (not compact)
	fSIDRaw             // the arena holds the SID as written (it differs from the normalised one)
	fGUID               // guid holds the objectGUID; the key is its string form
	fGUIDRaw            // the arena holds the objectGUID as written
	fUPNDerived         // the UPN is sam@dnsDomain, not stored
	fHostDerived        // the dNSHostName is sam without $ + "." + dnsDomain, not stored
	fNBDerived          // the NetBIOS name is sam without $, not stored
	fDNSplit            // the DN is the arena's first RDN + "," + the interned parent
	fPrivileged
	fDisabled
	fWhen // when_changed is set
)

// flat is an entity's fields as strings, from a proto message or straight from its bytes.
// Strings decoded from bytes are views into those bytes, valid only while encoding.
type flat struct {
	kind                                int32
	sid, guid, sam, nbDomain, dnsDomain string
	upn, host, nbName, display, dn      string
	source                              string
	sidNorm, guidNorm                   string // set by key
	spns, memberOf                      []string
	privileged, disabled                bool
	uac                                 uint32
	hasWhen                             bool
	whenSec                             int64
	whenNanos                           int32
}

// key is the entity's stable key, as entity.Key computes it. It normalises the SID and the
// objectGUID once for encode too: call it before encode.
func (f *flat) key() string {
	f.sidNorm, f.guidNorm = normSID(f.sid), normGUID(f.guid)
	if f.guidNorm != "" {
		return f.guidNorm
	}
	return f.sidNorm
}

// arenaSize bounds the arena bytes encode appends for f.
func (f *flat) arenaSize() int {
	n := len(f.sam) + len(f.upn) + len(f.host) + len(f.nbName) + len(f.display) + len(f.dn) +
		len(f.sid)*2 + len(f.guid) + 9*binary.MaxVarintLen32
	for _, s := range f.spns {
		n += binary.MaxVarintLen32 + len(s)
	}
	return n + binary.MaxVarintLen32*len(f.memberOf)
}

// fields is a record's arena strings, as views into the arena (valid under the index's lock).
type fields struct {
	sam, upn, host, nbName, display, dn string
	sidRaw, sidNorm, guidRaw            string
	lists                               []byte // SPN count and SPNs, member count and ids
}

// encode turns f, whose key was computed, into r, appending its strings to the arena and interning its repeated ones.
func (ix *Index) encode(r *record, f *flat) {
	*r = record{kind: f.kind, uac: f.uac, whenSec: f.whenSec, whenNanos: f.whenNanos, flags: fLive}
	set := func(flag uint16, on bool) {
		if on {
			r.flags |= flag
		}
	}
	set(fPrivileged, f.privileged)
	set(fDisabled, f.disabled)
	set(fWhen, f.hasWhen)

	var sidRaw, sidNorm string
	if norm := f.sidNorm; norm != "" {
		i := strings.LastIndexByte(norm, '-')
		digits := norm[i+1:]
		if rid, err := strconv.ParseUint(digits, 10, 32); err == nil && (len(digits) == 1 || digits[0] != '0') { // no leading zero: formats back the same
			r.flags |= fSIDCompact
			r.domainSID, r.rid = ix.strs.add(norm[:i]), uint32(rid)
		} else {
			r.flags |= fSIDNorm
			sidNorm = norm
		}
		if f.sid != norm {
			r.flags |= fSIDRaw
			sidRaw = f.sid
		}
	} else if f.sid != "" {
		r.flags |= fSIDRaw
		sidRaw = f.sid
	}
	var guidRaw string
	if g := f.guidNorm; g != "" {
		r.flags |= fGUID
		hex.Decode(r.guid[0:4], []byte(g[0:8]))    //nolint:errcheck // NormalizeGUID checked the digits
		hex.Decode(r.guid[4:6], []byte(g[9:13]))   //nolint:errcheck
		hex.Decode(r.guid[6:8], []byte(g[14:18]))  //nolint:errcheck
		hex.Decode(r.guid[8:10], []byte(g[19:23])) //nolint:errcheck
		hex.Decode(r.guid[10:], []byte(g[24:]))    //nolint:errcheck
		if f.guid != g {
			r.flags |= fGUIDRaw
			guidRaw = f.guid
		}
	} else if f.guid != "" {
		r.flags |= fGUIDRaw
		guidRaw = f.guid
	}
	r.nbDomain = ix.strs.add(f.nbDomain)
	r.dnsDomain = ix.strs.add(f.dnsDomain)
	ix.domainCount(f.nbDomain, 1)
	ix.domainCount(f.dnsDomain, 1)
	r.source = ix.strs.add(f.source)

	bare := strings.TrimSuffix(f.sam, "$")
	upn, host, nbName, dn := f.upn, f.host, f.nbName, f.dn
	if upn != "" && f.dnsDomain != "" && len(upn) == len(f.sam)+1+len(f.dnsDomain) &&
		strings.HasPrefix(upn, f.sam) && upn[len(f.sam)] == '@' && strings.HasSuffix(upn, f.dnsDomain) {
		r.flags |= fUPNDerived
		upn = ""
	}
	if host != "" && bare != "" && f.dnsDomain != "" && len(host) == len(bare)+1+len(f.dnsDomain) &&
		strings.HasPrefix(host, bare) && host[len(bare)] == '.' && strings.HasSuffix(host, f.dnsDomain) {
		r.flags |= fHostDerived
		host = ""
	}
	if nbName != "" && nbName == bare {
		r.flags |= fNBDerived
		nbName = ""
	}
	if i := firstRDNEnd(dn); i > 0 && i < len(dn)-1 {
		r.flags |= fDNSplit
		r.dnParent = ix.strs.addDN(dn[i+1:])
		dn = dn[:i]
	}

	ix.reserveArena(f.arenaSize())
	start := len(ix.arena)
	a := ix.arena
	for _, s := range [...]string{f.sam, upn, host, nbName, f.display, dn} {
		a = appendString(a, s)
	}
	for _, s := range [...]string{sidNorm, sidRaw, guidRaw} {
		if s != "" {
			a = appendString(a, s)
		}
	}
	a = binary.AppendUvarint(a, uint64(len(f.spns)))
	for _, s := range f.spns {
		a = appendString(a, s)
	}
	a = binary.AppendUvarint(a, uint64(len(f.memberOf)))
	for _, s := range f.memberOf {
		a = binary.AppendUvarint(a, uint64(ix.strs.add(s)))
	}
	ix.setArena(a)
	r.off, r.size = uint32(start), uint32(len(a)-start)
}

// release drops a record's references to interned strings and counts its arena bytes as
// garbage.
func (ix *Index) release(r *record) {
	ix.domainCount(ix.strs.get(r.nbDomain), -1)
	ix.domainCount(ix.strs.get(r.dnsDomain), -1)
	for _, id := range [...]uint32{r.domainSID, r.nbDomain, r.dnsDomain, r.source, r.dnParent} {
		ix.strs.release(id)
	}
	lists := ix.fields(r).lists
	n, lists := uvarint(lists)
	for range n {
		_, lists = str(lists)
	}
	n, lists = uvarint(lists)
	for range n {
		var id uint64
		id, lists = uvarint(lists)
		ix.strs.release(uint32(id))
	}
	ix.garbage += int(r.size)
	*r = record{}
}

// fields decodes a record's arena strings.
func (ix *Index) fields(r *record) fields {
	b := ix.arena[r.off : r.off+r.size]
	var f fields
	f.sam, b = str(b)
	f.upn, b = str(b)
	f.host, b = str(b)
	f.nbName, b = str(b)
	f.display, b = str(b)
	f.dn, b = str(b)
	if r.flags&fSIDNorm != 0 {
		f.sidNorm, b = str(b)
	}
	if r.flags&fSIDRaw != 0 {
		f.sidRaw, b = str(b)
	}
	if r.flags&fGUIDRaw != 0 {
		f.guidRaw, b = str(b)
	}
	f.lists = b
	return f
}

// firstRDNEnd is the index of the comma that ends a DN's first RDN, or -1. An escaped comma
// ("CN=Baggins\, Frodo") belongs to the RDN.
func firstRDNEnd(dn string) int {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return i
		}
	}
	return -1
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarint(b []byte) (uint64, []byte) {
	n, k := binary.Uvarint(b)
	return n, b[k:]
}

// str reads one length-prefixed string as a view into b, without copying: the caller holds
// the index lock and copies what it returns.
func str(b []byte) (string, []byte) {
	n, k := binary.Uvarint(b)
	b = b[k:]
	if n == 0 {
		return "", b
	}
	return unsafe.String(&b[0], int(n)), b[n:]
}
