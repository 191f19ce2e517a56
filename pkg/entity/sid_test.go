package entity

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// sidPatternBefore and normalizeSIDBefore are NormalizeSID as it was, with a regular
// expression and a split: the oracle the hand-written parser must equal on every input.
var sidPatternBefore = regexp.MustCompile(`^S-1-\d{1,15}(-\d{1,10}){1,15}$`)

func normalizeSIDBefore(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxSIDLen {
		return ""
	}
	s = strings.ToUpper(s)
	if !sidPatternBefore.MatchString(s) {
		return ""
	}
	parts := strings.Split(s, "-")
	if _, err := strconv.ParseUint(parts[2], 10, 48); err != nil {
		return ""
	}
	for _, p := range parts[3:] {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return ""
		}
	}
	return s
}

// sidEdges are inputs at every bound of the SID's form.
var sidEdges = []string{
	"", " ", "S", "S-", "S-1", "S-1-", "S-1-5", "S-1-5-", "S-1-5-18", "s-1-5-18", " S-1-5-18\t", "\u017f-1-5-18",
	"\u017f-1-5-18-\u017f", "S-1-5-18-", "S-1-5--18", "S-2-5-18", "S-01-5-18", "S-1-05-018", "S-1-0-0",
	"S-1-5-21-3669966080-2286457517-972388166-1104", "S-1-5-21-3669966080-2286457517-972388166-1104\u0131",
	"S-1-281474976710655-1", "S-1-281474976710656-1", "S-1-999999999999999-1", "S-1-0000000000000001-1",
	"S-1-5-4294967295", "S-1-5-4294967296", "S-1-5-9999999999", "S-1-5-00000000001", "S-1-5-0000000001",
	"S-1-5" + strings.Repeat("-1", 15), "S-1-5" + strings.Repeat("-1", 16),
	"S-1-5" + strings.Repeat("-4294967295", 15), "S-1-999999999999999" + strings.Repeat("-4294967295", 15),
	" S-1-999999999999999" + strings.Repeat("-4294967295", 15) + " ",
	"\u017f-1-999999999999999" + strings.Repeat("-4294967295", 15),
	"S-1-0x123456789abc-1", "S-1-5-+18", "S-1-5-18\x00", "S-1-5-\xff", "\xffS-1-5-18", "\u00a0S-1-5-18\u2028",
	"S-1-\u0665-18", "S\u20131\u20135\u201318", "SS-1-5-18", "S-1-5-18 -1",
}

func TestNormalizeSIDMatchesRegexp(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		if got, want := NormalizeSID(s), normalizeSIDBefore(s); got != want {
			t.Fatalf("NormalizeSID(%q) = %q, the regular expression gives %q", s, got, want)
		}
	}
	for _, s := range sidEdges {
		check(s)
	}
	// Every rune in the place of the S, of a digit and of a dash: only ſ upper-cases to one of
	// them, and the parser must know every such rune.
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		c := string(r)
		check(c + "-1-5-18")
		check("S-1-" + c + "-18")
		check("S-1-5" + c + "18")
	}
	// Random SID-shaped strings around the bounds: group counts, digit counts and values.
	rng := rand.New(rand.NewPCG(17, 2))
	pieces := []string{"-", "0", "1", "9", "S", "s", "\u017f", " ", "x", "4294967295", "4294967296", "281474976710655", "281474976710656"}
	for range 200_000 {
		var b strings.Builder
		if rng.IntN(4) > 0 {
			b.WriteString([]string{"S-1-", "s-1-", "\u017f-1-", " S-1-"}[rng.IntN(4)])
		}
		for g := rng.IntN(18); g >= 0; g-- {
			switch rng.IntN(6) {
			case 0:
				b.WriteString(pieces[rng.IntN(len(pieces))])
			default:
				b.WriteString(strconv.FormatUint(rng.Uint64N(1<<rng.IntN(52)), 10))
				if rng.IntN(8) == 0 {
					b.WriteString(strings.Repeat("0", rng.IntN(12)))
				}
			}
			if g > 0 {
				b.WriteByte('-')
			}
		}
		check(b.String())
	}
}

// FuzzNormalizeSID compares the parser with the regular expression it replaced.
func FuzzNormalizeSID(f *testing.F) {
	for _, s := range sidEdges {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := NormalizeSID(s), normalizeSIDBefore(s); got != want {
			t.Fatalf("NormalizeSID(%q) = %q, the regular expression gives %q", s, got, want)
		}
	})
}

func BenchmarkNormalizeSID(b *testing.B) {
	for _, s := range []string{"S-1-5-21-3669966080-2286457517-972388166-1104", "s-1-5-21-3669966080-2286457517-972388166-1104"} {
		b.Run(s[:1], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if NormalizeSID(s) == "" {
					b.Fatal("not a SID")
				}
			}
		})
	}
}
