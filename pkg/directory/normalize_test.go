package directory

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/entity"
)

// randomName joins pieces that stress folding and parsing: identifiers, separators, spaces
// ASCII and not, letters whose lower case changes length, invalid UTF-8.
func randomName(r *rand.Rand) string {
	pieces := []string{"S-1-", "5", "21", "-", "0", "4294967295", "4294967296", "281474976710656", "1", "a", "A", "É",
		" ", "\u0085", "\u00a0", "\\", ",", ";", "=", "\xff", "\xe2\x82", "İ", "\u212a", "cn", "CN", "{", "}", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21", "$", "."}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestNormalFormsMatchEntity checks the index's allocation-free normal forms against the
// functions that define them, on random names.
func TestNormalFormsMatchEntity(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"", "S-1-5-21-1-2-3-1104", "S-1-5-18", "S-1-5", "S-1-281474976710655-1", "S-1-281474976710656-1",
		"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "S-1-5-00000000001",
		"5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21", "5B7E1A52-9c3d-4f0e-a1b2-7d6c5e4f3a21", `CN=Baggins\, Frodo , OU=x;DC=y`, `CN=a\ ,DC=b`,
		"nothing,DC=x", "CN=x,nothing", "a;b=c,d", `CN=a\,b,OU=c\ , DC=d `}
	for range 20000 {
		names = append(names, randomName(r))
	}
	for _, s := range names {
		if got, want := normSID(s), entity.NormalizeSID(s); got != want {
			t.Errorf("normSID(%q) = %q, want %q", s, got, want)
		}
		if got, want := normGUID(s), entity.NormalizeGUID(s); got != want {
			t.Errorf("normGUID(%q) = %q, want %q", s, got, want)
		}
		if got, want := string(appendFold([]byte("x"), s)), "x"+entity.Fold(s); got != want {
			t.Errorf("appendFold(%q) = %q, want %q", s, got, want)
		}
		if got, want := string(appendNormalizeDN([]byte("x"), s)), "x"+NormalizeDN(s); got != want {
			t.Errorf("appendNormalizeDN(%q) = %q, want %q", s, got, want)
		}
		half := len(s) / 2
		if got, want := string(appendNormalizeDN(nil, s[:half], s[half:])), NormalizeDN(s); got != want {
			t.Errorf("appendNormalizeDN(%q, %q) = %q, want %q", s[:half], s[half:], got, want)
		}
		if i := firstRDNEnd(s); i > 0 && i < len(s)-1 { // split as encode splits a DN
			parent := s[i+1:]
			got := string(appendSplitDN([]byte("x"), s[:i], parent, string(appendNormalizeRDNs(nil, parent))))
			if want := "x" + NormalizeDN(s); got != want {
				t.Errorf("appendSplitDN(%q, %q) = %q, want %q", s[:i], parent, got, want)
			}
		}
		_, nb, fqdn := hostNames([]byte("x"), s[:half], s[half:])
		if wantNB, wantFQDN := entity.HostNames(s); string(nb) != wantNB || string(fqdn) != wantFQDN {
			t.Errorf("hostNames(%q) = %q, %q; want %q, %q", s, nb, fqdn, wantNB, wantFQDN)
		}
	}
}

func TestCanonicalGUID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    string
		want bool
	}{
		{"canonical", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21", true},
		{"upper case", "5B7E1A52-9c3d-4f0e-a1b2-7d6c5e4f3a21", false},
		{"braced", "{5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a2}", false},
		{"dash for a digit", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a-1", false},
		{"not hex", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3ag1", false},
		{"no dashes", "5b7e1a529c3d4f0ea1b27d6c5e4f3a21abcd", false},
		{"short", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a2", false},
		{"non-ASCII", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a\u00e9", false},
	} {
		if got := canonicalGUID(tc.s); got != tc.want {
			t.Errorf("%s: canonicalGUID(%q) = %v, want %v", tc.name, tc.s, got, tc.want)
		}
	}
}
