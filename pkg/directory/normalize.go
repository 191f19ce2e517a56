package directory

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
)

// normSID is entity.NormalizeSID, which parses by hand and returns a canonical SID (how the
// directory writes every one of them) without a copy: loading a million entities costs no
// regular expression and no allocation for their SIDs.
func normSID(s string) string { return entity.NormalizeSID(s) }

// normGUID is entity.NormalizeGUID with a shortcut for a GUID already in canonical form.
func normGUID(s string) string {
	if canonicalGUID(s) {
		return s
	}
	return entity.NormalizeGUID(s)
}

// canonicalGUID reports whether s is a lower-case GUID with dashes and without braces.
func canonicalGUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n += int(guidClass[s[i]])
	}
	return n == 4 // the four dashes above, and only lower-case hex digits besides
}

// guidClass is 0 for a lower-case hex digit, 1 for a dash and 64 for any other byte: the sum
// over a 36-byte string is 4 only for hex digits and four dashes.
var guidClass = func() (c [256]uint8) {
	for i := range c {
		switch {
		case '0' <= i && i <= '9', 'a' <= i && i <= 'f':
		case i == '-':
			c[i] = 1
		default:
			c[i] = 64
		}
	}
	return c
}()

// appendNormalizeDN appends NormalizeDN of the DN joined from parts, without the strings
// NormalizeDN builds on the way: the index computes every DN's normal form when it loads.
func appendNormalizeDN(dst []byte, parts ...string) []byte {
	start := len(dst)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	raw := len(dst)
	dn := view(dst[start:raw])
	if !strings.Contains(dn, "=") {
		return dst[:start]
	}
	dst = appendNormalizeRDNs(dst, dn)
	n := copy(dst[start:], dst[raw:])
	return dst[:start+n]
}

// appendSplitDN appends NormalizeDN of first + "," + parent, where first ends at the DN's
// first unescaped comma and parentRDNs is appendNormalizeRDNs of parent: a DN's RDNs are
// normalised one by one, so the interned parent's are computed once for all its children.
func appendSplitDN(dst []byte, first, parent, parentRDNs string) []byte {
	if !strings.Contains(first, "=") && !strings.Contains(parent, "=") {
		return dst
	}
	dst = appendNormalizeRDNs(dst, first)
	dst = append(dst, ',')
	return append(dst, parentRDNs...)
}

// appendNormalizeRDNs appends the normal form of each RDN of dn, joined by commas, as
// NormalizeDN makes them (without its check for an "="). dn must not alias dst's free room.
func appendNormalizeRDNs(dst []byte, dn string) []byte {
	rdn := func(rdn string) {
		typ, val, _ := strings.Cut(rdn, "=")
		val = strings.TrimSpace(val)
		dst = appendFold(dst, typ) // TrimSpace then lower case, as NormalizeDN does
		dst = append(dst, '=')
		dst = appendLower(dst, val)
		if strings.HasSuffix(val, `\`) && strings.HasSuffix(rdn, " ") {
			dst = append(dst, ' ')
		}
	}
	from := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',', ';':
			rdn(dn[from:i])
			dst = append(dst, ',')
			from = i + 1
		}
	}
	rdn(dn[from:])
	return dst
}
