package directory

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
)

// normSID is entity.NormalizeSID with a shortcut for a SID already in canonical form, which is
// how the directory writes every one of them: loading a million entities should not run a
// million regular expressions. Anything else goes to entity.NormalizeSID, so the result is
// always the same as its.
func normSID(s string) string {
	if canonicalSID(s) {
		return s
	}
	return entity.NormalizeSID(s)
}

// canonicalSID reports whether s is "S-1-" then an authority of 1-15 digits below 2^48 and
// 1-15 sub-authorities of 1-10 digits below 2^32: what entity.NormalizeSID accepts and
// returns unchanged.
func canonicalSID(s string) bool {
	if !strings.HasPrefix(s, "S-1-") {
		return false
	}
	groups, digits, v := 0, 0, uint64(0)
	end := func() bool {
		limit, most := uint64(1)<<32, 10
		if groups == 0 {
			limit, most = 1<<48, 15
		}
		groups++
		return digits > 0 && digits <= most && v < limit
	}
	for i := 4; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if digits++; digits > 15 {
				return false
			}
			v = v*10 + uint64(c-'0')
		case c == '-':
			if !end() {
				return false
			}
			digits, v = 0, 0
		default:
			return false
		}
	}
	return end() && groups >= 2 && groups <= 16
}

// normGUID is entity.NormalizeGUID with a shortcut for a GUID already in canonical form.
func normGUID(s string) string {
	if canonicalGUID(s) {
		return s
	}
	return entity.NormalizeGUID(s)
}

// canonicalGUID reports whether s is a lower-case GUID with dashes and without braces.
func canonicalGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

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
	n := copy(dst[start:], dst[raw:])
	return dst[:start+n]
}
