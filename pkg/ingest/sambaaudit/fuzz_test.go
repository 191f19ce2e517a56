package sambaaudit

import (
	"errors"
	"testing"
)

// FuzzParse checks, on the lines of both samples and their mutations, that Parse never
// panics, that only a line meant as an event is ever an error (and then one of the package's
// errors), and that every event it accepts maps onto an adjoin event.
func FuzzParse(f *testing.F) {
	for _, name := range []string{sampleStart, sampleScenario} {
		for _, line := range sampleLines(f, name) {
			f.Add(line)
		}
	}
	for _, s := range []string{
		``, `[`, `[2026/11/28 09:54:03.092625,  0] {`, `  {"timestamp": "x"}`, `  a: {`, `  {}`,
		`  {"timestamp": "2026-11-28T09:56:19Z", "type": "__proto__", "__proto__": {"eventId": 4728, "group": "CN=,"}}`,
		`  {"timestamp": "2026-11-28T09:56:19Z", "type": "Authentication", "Authentication": {"remoteAddress": "ipv6::", "eventId": 1e99}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		kind, ev, err := Parse(line)
		if err != nil {
			if kind != AuditEvent || ev != nil {
				t.Fatalf("error %v with kind %s and event %v", err, kind, ev)
			}
			if !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrMissingField) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is none of the package's", err)
			}
			return
		}
		if (kind == AuditEvent) != (ev != nil) {
			t.Fatalf("kind %s with event %v", kind, ev)
		}
		if ev == nil {
			return
		}
		a := ev.Adjoin("dc")
		if a.GetChannel() == "" || a.GetFormat() != Format || a.GetFields()["samba.type"] != ev.Type || ev.Type == "" {
			t.Fatalf("event %+v mapped to %v", ev, a)
		}
	})
}
