package directory

import (
	"encoding/hex"
	"strconv"
	"unsafe"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// built holds an entity with its when_changed and short lists, so that building one costs
// one allocation for all of them.
type built struct {
	e     adjoinv1.Entity
	ts    timestamppb.Timestamp
	lists [4]string // SPNs and groups, when there are few
}

// entity builds a fresh message from record i: one allocation for the message and one for its
// strings (and one for its lists when there are more than four). Callers own it.
func (ix *Index) entity(i uint32) *adjoinv1.Entity {
	r := &ix.recs[i]
	f := ix.fields(r)
	nb, dns := ix.strs.get(r.nbDomain), ix.strs.get(r.dnsDomain)

	// Every string of the message that is not interned goes into one buffer.
	type span struct{ start, end int }
	buf := make([]byte, 0, ix.builtSize(r, &f))
	add := func(parts ...string) span {
		start := len(buf)
		for _, p := range parts {
			buf = append(buf, p...)
		}
		return span{start, len(buf)}
	}
	var key, sid, guid span
	if r.flags&fGUID != 0 {
		guid.start = len(buf)
		buf = appendGUID(buf, &r.guid)
		guid.end = len(buf)
		key = guid
	}
	sid.start = len(buf)
	buf, _ = ix.appendSID(buf, r, &f)
	sid.end = len(buf)
	if r.flags&fGUID == 0 {
		key = sid
	}
	if r.flags&fSIDRaw != 0 {
		sid = add(f.sidRaw)
	}
	if r.flags&fGUIDRaw != 0 {
		guid = add(f.guidRaw)
	}
	sam := add(f.sam)
	bare := sam
	if n := len(f.sam); n > 0 && f.sam[n-1] == '$' {
		bare.end--
	}
	upn := add(f.upn)
	if r.flags&fUPNDerived != 0 {
		upn = add(f.sam, "@", dns)
	}
	host := add(f.host)
	if r.flags&fHostDerived != 0 {
		host = add(f.sam[:bare.end-bare.start], ".", dns)
	}
	nbName := add(f.nbName)
	if r.flags&fNBDerived != 0 {
		nbName = bare
	}
	display := add(f.display)
	dn := add(f.dn)
	if r.flags&fDNSplit != 0 {
		dn = add(f.dn, ",", ix.strs.get(r.dnParent))
	}
	lists := f.lists
	nSPN, lists := uvarint(lists)
	spns, spnStart := lists, len(buf)
	for range nSPN {
		var v string
		v, lists = str(lists)
		buf = append(buf, v...)
	}
	nMember, lists := uvarint(lists)
	s := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again
	at := func(sp span) string { return s[sp.start:sp.end] }

	b := &built{}
	e := &b.e
	e.Key, e.Kind, e.Sid, e.ObjectGuid = at(key), adjoinv1.EntityKind(r.kind), at(sid), at(guid)
	e.SamAccountName, e.NetbiosDomain, e.DnsDomain = at(sam), nb, dns
	e.Upn, e.DnsHostName, e.NetbiosName = at(upn), at(host), at(nbName)
	e.DisplayName, e.DistinguishedName = at(display), at(dn)
	e.Privileged, e.Disabled, e.UserAccountControl = r.flags&fPrivileged != 0, r.flags&fDisabled != 0, r.uac
	e.Source = ix.strs.get(r.source)
	if r.flags&fWhen != 0 {
		b.ts.Seconds, b.ts.Nanos = r.whenSec, r.whenNanos
		e.WhenChanged = &b.ts
	}
	if n := int(nSPN + nMember); n > 0 {
		var all []string
		if n <= len(b.lists) {
			all = b.lists[:n]
		} else {
			all = make([]string, n)
		}
		pos := spnStart
		for i := range int(nSPN) {
			var v string
			v, spns = str(spns)
			all[i] = s[pos : pos+len(v)]
			pos += len(v)
		}
		for i := int(nSPN); i < n; i++ {
			var id uint64
			id, lists = uvarint(lists)
			all[i] = ix.strs.get(uint32(id))
		}
		if nSPN > 0 {
			e.ServicePrincipalNames = all[:nSPN:nSPN]
		}
		if nMember > 0 {
			e.MemberOf = all[nSPN:]
		}
	}
	return e
}

// builtSize is an upper bound of the bytes entity copies for r.
func (ix *Index) builtSize(r *record, f *fields) int {
	n := int(r.size) + 36 + len(ix.strs.get(r.domainSID)) + 11
	dns := len(ix.strs.get(r.dnsDomain))
	if r.flags&fUPNDerived != 0 {
		n += len(f.sam) + 1 + dns
	}
	if r.flags&fHostDerived != 0 {
		n += len(f.sam) + 1 + dns
	}
	if r.flags&fDNSplit != 0 {
		n += 1 + len(ix.strs.get(r.dnParent))
	}
	return n
}

// appendGUID appends the canonical string form of an objectGUID.
func appendGUID(b []byte, g *[16]byte) []byte {
	b = hex.AppendEncode(b, g[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, g[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, g[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, g[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, g[10:16])
}

// appendSID appends a record's normalised SID, reporting whether it has one.
func (ix *Index) appendSID(b []byte, r *record, f *fields) ([]byte, bool) {
	switch {
	case r.flags&fSIDCompact != 0:
		b = append(b, ix.strs.get(r.domainSID)...)
		b = append(b, '-')
		return strconv.AppendUint(b, uint64(r.rid), 10), true
	case r.flags&fSIDNorm != 0:
		return append(b, f.sidNorm...), true
	}
	return b, false
}
