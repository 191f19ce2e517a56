package ldapsource

import (
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// FuzzParseLDIF checks that no input panics, that every failure is a *LineError pointing at a
// real line, and that every entity returned is keyed, typed and can be published (valid
// protobuf, which needs UTF-8 strings).
func FuzzParseLDIF(f *testing.F) {
	seeds := []string{
		theshire,
		capturedLDIF,
		"version: 1\n\ndn: CN=c,DC=a\nobjectClass: computer\nsAMAccountName: C$\nobjectGUID: {00000000-0000-0000-0000-000000000000}\n",
		"dn: CN=x\\,y,DC=a\nobjectClass: user\nobjectSid: S-1-5-21-1-2-3-4\nmemberOf: CN=Administrators,CN=Builtin,DC=a\n",
		"dn: x\n objectClass: user\n# c\n more\n\n\n",
		"dn:: AA==\nobjectClass:: dXNlcg==\nobjectSid:: AQEAAAAAAAUSAAAA\nwhenChanged: 99991231235959.9Z\n",
	}
	if b, err := os.ReadFile(demoLDIF); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Count(in, "\n") + 1
		got, err := ParseLDIF(strings.NewReader(in), Options{Source: "ldif:fuzz"})
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LineError", err)
			}
			if le.Line < 1 || le.Line > lines {
				t.Fatalf("error %v names line %d of %d", err, le.Line, lines)
			}
			if got != nil {
				t.Fatalf("entities returned with error %v", err)
			}
			return
		}
		for _, e := range got {
			if e.GetKey() == "" || e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_UNSPECIFIED {
				t.Fatalf("entity without key or kind: %v", e)
			}
			if _, err := proto.Marshal(e); err != nil {
				t.Fatalf("entity %v does not marshal: %v", e, err)
			}
			if ts := e.GetWhenChanged(); ts != nil && ts.CheckValid() != nil {
				t.Fatalf("invalid whenChanged %v", ts)
			}
		}
	})
}
