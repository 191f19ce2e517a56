package directory

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// nameKind is what a name names; a record's names of each kind are computed from the record
// when it is indexed and again to verify a hash match, never stored.
type nameKind uint8

const (
	nameSID nameKind = iota
	nameGUID
	nameDomainSAM
	nameUPN
	nameFQDN
	nameNetBIOS
	nameDN
	nameBareSAM // several entities may share one; resolves only when unique
	nameSIDKey  // the key of an entity without objectGUID (its SID names may point elsewhere)
	nameKinds
)

// appendNames appends the normalised names of kind that record r is found by (at most two:
// DOMAIN\sam under the NetBIOS and the DNS domain name, since sensors write either) to dst,
// and returns where each ends. The names are those the index has always used: entity.Fold'ed
// names, entity.HostNames, NormalizeDN.
func (ix *Index) appendNames(dst []byte, r *record, f *fields, kind nameKind) (_ []byte, ends [2]int, n int) {
	start := len(dst)
	done := func() {
		if len(dst) > start {
			ends[n], n = len(dst), n+1
		}
		start = len(dst)
	}
	switch kind {
	case nameSID:
		dst, _ = ix.appendSID(dst, r, f)
		done()
	case nameSIDKey:
		if r.flags&fGUID == 0 {
			dst, _ = ix.appendSID(dst, r, f)
			done()
		}
	case nameGUID:
		if r.flags&fGUID != 0 {
			dst = appendGUID(dst, &r.guid)
			done()
		}
	case nameDomainSAM:
		if f.sam == "" {
			break
		}
		for _, d := range [...]uint32{r.nbDomain, r.dnsDomain} {
			if d != 0 {
				dst = appendFold(dst, ix.strs.get(d))
				dst = append(dst, '\\')
				dst = appendFold(dst, f.sam)
				done()
			}
		}
	case nameUPN:
		if r.flags&fUPNDerived != 0 {
			dst = foldJoined(dst, f.sam, "@", ix.strs.get(r.dnsDomain))
		} else {
			dst = appendFold(dst, f.upn)
		}
		done()
	case nameBareSAM:
		dst = appendFold(dst, f.sam)
		done()
	case nameDN:
		if r.flags&fDNSplit != 0 {
			dst = appendSplitDN(dst, f.dn, ix.strs.get(r.dnParent), ix.strs.dnRDNs(r.dnParent))
		} else {
			dst = appendNormalizeDN(dst, f.dn)
		}
		done()
	case nameFQDN, nameNetBIOS:
		if r.kind != int32(adjoinv1.EntityKind_ENTITY_KIND_COMPUTER) {
			break
		}
		var nb, fqdn []byte
		if r.flags&fHostDerived != 0 {
			dst, nb, fqdn = hostNames(dst, strings.TrimSuffix(f.sam, "$"), ".", ix.strs.get(r.dnsDomain))
		} else {
			dst, nb, fqdn = hostNames(dst, f.host)
		}
		if kind == nameFQDN {
			dst = dst[:start+copy(dst[start:], fqdn)]
			done()
			break
		}
		nbName := f.nbName
		if r.flags&fNBDerived != 0 {
			nbName = strings.TrimSuffix(f.sam, "$")
		}
		var n []byte
		if dst, n, _ = hostNames(dst, nbName); len(n) > 0 {
			nb = n
		}
		if len(nb) == 0 {
			dst, nb, _ = hostNames(dst, f.sam)
		}
		dst = dst[:start+copy(dst[start:], nb)]
		done()
	}
	return dst, ends, n
}

// hasName reports whether record i has name of kind: the check behind every hash match.
func (ix *Index) hasName(i uint32, kind nameKind, name string) bool {
	r := &ix.recs[i]
	f := ix.fields(r)
	var buf [256]byte
	b, ends, n := ix.appendNames(buf[:0], r, &f, kind)
	start := 0
	for _, end := range ends[:n] {
		if string(b[start:end]) == name {
			return true
		}
		start = end
	}
	return false
}

// eachName calls fn with every name of record i, for indexing and unindexing it.
func (ix *Index) eachName(i uint32, fn func(kind nameKind, name []byte)) {
	r := &ix.recs[i]
	f := ix.fields(r)
	for kind := range nameKinds {
		b, ends, n := ix.appendNames(ix.scratch[:0], r, &f, kind)
		ix.scratch = b
		start := 0
		for _, end := range ends[:n] {
			if end > start {
				fn(kind, b[start:end])
			}
			start = end
		}
	}
}

// appendFold appends entity.Fold(s) (strings.ToLower(strings.TrimSpace(s))) to dst without
// building the folded string.
func appendFold(dst []byte, s string) []byte { return appendLower(dst, strings.TrimSpace(s)) }

// appendLower appends strings.ToLower(s): invalid UTF-8 becomes U+FFFD, as strings.ToLower
// makes it.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				dst = utf8.AppendRune(dst, unicode.ToLower(r))
			}
			return dst
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// foldJoined appends the fold of the concatenation of parts.
func foldJoined(dst []byte, parts ...string) []byte {
	start := len(dst)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	raw := len(dst)
	dst = appendFold(dst, unsafe.String(unsafe.SliceData(dst[start:]), raw-start))
	n := copy(dst[start:], dst[raw:])
	return dst[:start+n]
}

// hostNames appends the fold of the host name joined from parts to dst and returns the NetBIOS
// name and FQDN in it, as entity.HostNames computes them.
func hostNames(dst []byte, parts ...string) (_, netbios, fqdn []byte) {
	start := len(dst)
	dst = foldJoined(dst, parts...)
	n := bytes.TrimSuffix(dst[start:], []byte("$"))
	n = bytes.TrimSuffix(n, []byte("."))
	if len(n) == 0 {
		return dst, nil, nil
	}
	if i := bytes.IndexByte(n, '.'); i >= 0 {
		return dst, n[:i], n
	}
	return dst, n, nil
}
