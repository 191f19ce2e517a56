package directory

import (
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ByDN returns the entity whose distinguished name is dn, compared as NormalizeDN compares
// them. Sources that name accounts only by DN (a Samba DC's group change audit) find their
// SID this way.
func (ix *Index) ByDN(dn string) (*adjoinv1.Entity, bool) {
	n := NormalizeDN(dn)
	if n == "" {
		return nil, false
	}
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	i, ok := ix.lookup(nameDN, n)
	if !ok {
		return nil, false
	}
	return ix.entity(i), true
}

// byDN is the Match of the entity whose distinguished name is dn (Key "" when none), built or
// not; it tells which name it tried.
func (ix *Index) byDN(dn string, build bool) Match {
	n := NormalizeDN(dn)
	m := Match{Tried: []string{"dn:" + n}}
	if n == "" {
		return m
	}
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if i, ok := ix.lookup(nameDN, n); ok {
		ix.found(&m, i, build, n)
		m.Value, m.Certainty = n, certaintyDomainSAM
	}
	return m
}

// NormalizeDN folds a distinguished name for comparison: lower case, no spaces around the
// separators of its RDNs ("CN=Frodo Baggins, CN=Users,DC=x" and "cn=frodo baggins,cn=users,dc=x"
// are the same). Escaped characters ("\,", "\2C") are kept as written. "" for a value without
// an "=".
func NormalizeDN(dn string) string {
	if !strings.Contains(dn, "=") {
		return ""
	}
	var rdns []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',', ';':
			rdns = append(rdns, dn[start:i])
			start = i + 1
		}
	}
	rdns = append(rdns, dn[start:])
	for i, rdn := range rdns {
		typ, val, _ := strings.Cut(rdn, "=")
		val = strings.TrimSpace(val)
		if strings.HasSuffix(val, `\`) && strings.HasSuffix(rdn, " ") {
			val += " " // an escaped trailing space belongs to the value
		}
		rdns[i] = strings.TrimSpace(typ) + "=" + val
	}
	return strings.ToLower(strings.Join(rdns, ","))
}
