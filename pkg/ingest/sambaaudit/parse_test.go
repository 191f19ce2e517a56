package sambaaudit

import (
	"bufio"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Samples captured from the lab DC (testdata/README.md): the DC's start, with Samba's own
// records and a subprocess's event split in pieces, and the attack scenario.
const (
	sampleStart    = "samba-start.log"
	sampleScenario = "samba-audit.log"
)

// sampleLines returns the lines of a sample file.
func sampleLines(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sampleEvents returns the audit events of a sample file, failing on a line in error.
func sampleEvents(t testing.TB, name string) []*Event {
	t.Helper()
	var out []*Event
	for i, line := range sampleLines(t, name) {
		kind, ev, err := Parse(line)
		if err != nil {
			t.Fatalf("%s line %d: %v", name, i+1, err)
		}
		if kind == AuditEvent {
			out = append(out, ev)
		}
	}
	return out
}

func TestParseSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		wantKinds map[Kind]int
		wantTypes map[string]int
	}{
		{sampleStart, map[Kind]int{Header: 15, Text: 16, Fragment: 2, AuditEvent: 3},
			map[string]int{"Authentication": 2, "dsdbChange": 1}},
		{sampleScenario, map[Kind]int{Header: 3, Text: 3, AuditEvent: 183},
			map[string]int{"Authentication": 70, "dsdbChange": 60, "groupChange": 35, "passwordChange": 18}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			kinds, types := map[Kind]int{}, map[string]int{}
			for i, line := range sampleLines(t, tt.file) {
				kind, ev, err := Parse(line)
				if err != nil {
					t.Errorf("line %d: %v", i+1, err)
					continue
				}
				kinds[kind]++
				if (kind == AuditEvent) != (ev != nil) {
					t.Errorf("line %d: kind %s with event %v", i+1, kind, ev)
				}
				if ev != nil {
					types[ev.Type]++
					if ev.Time.Year() != 2026 || ev.Time.Location() != time.UTC {
						t.Errorf("line %d: time %v", i+1, ev.Time)
					}
				}
			}
			if !maps.Equal(kinds, tt.wantKinds) {
				t.Errorf("kinds = %v, want %v", kinds, tt.wantKinds)
			}
			if !maps.Equal(types, tt.wantTypes) {
				t.Errorf("types = %v, want %v", types, tt.wantTypes)
			}
		})
	}
}

// A line of the start sample that Samba relayed whole would be an event; the two it holds are
// the head and the tail of one split event, and both are skipped.
func TestParseRelayedFragments(t *testing.T) {
	t.Parallel()
	var fragments []string
	for _, line := range sampleLines(t, sampleStart) {
		if kind, _, _ := Parse(line); kind == Fragment {
			fragments = append(fragments, string(line))
		}
	}
	if len(fragments) != 2 || !strings.HasPrefix(fragments[0], `  /usr/sbin/samba_spnupdate: {"timestamp"`) ||
		!strings.HasSuffix(fragments[1], `]}]}}}}`) {
		t.Fatalf("fragments = %q", fragments)
	}
	whole := strings.TrimSuffix(fragments[0], "\n") + strings.TrimPrefix(fragments[1], "  /usr/sbin/samba_spnupdate: ")
	kind, ev, err := Parse([]byte(whole))
	if err != nil || kind != AuditEvent || ev.RelayedBy != "/usr/sbin/samba_spnupdate" || ev.Type != "dsdbChange" {
		t.Fatalf("joined fragments: %s %+v %v", kind, ev, err)
	}
}

func TestParseLines(t *testing.T) {
	t.Parallel()
	const ev = `{"timestamp": "2026-11-28T09:56:19.117196+0000", "type": "passwordChange", "passwordChange": {"eventId": 4724}}`
	tests := []struct {
		name     string
		line     string
		wantKind Kind
		wantErr  error
		wantIn   string // in the error
	}{
		{"header", `[2026/11/28 09:54:03.092625,  0] ../../source4/samba/server.c:621(binary_smbd_main)`, Header, nil, ""},
		{"header with pid and class", `[2026/11/28 09:54:03.092625,  3, pid=10223, effective(0, 0), real(0, 0), class=auth_json_audit] ../../auth/auth_log.c:653(x)`, Header, nil, ""},
		{"text", `  samba version 4.17.12-Debian started.`, Text, nil, ""},
		{"text with a function prefix", `  daemon_status: daemon 'samba' : Starting process...`, Text, nil, ""},
		{"text that looks like a header", `[global]`, Text, nil, ""},
		{"blank", `   `, Blank, nil, ""},
		{"indented event", "  " + ev, AuditEvent, nil, ""},
		{"bare event with CRLF left", ev + "\r", AuditEvent, nil, ""},
		{"event after a header (debug prefix timestamp)", `[2026/11/28 09:54:03.092625,  3] ` + ev, AuditEvent, nil, ""},
		{"relayed whole event", `  /usr/sbin/samba_dnsupdate: ` + ev, AuditEvent, nil, ""},
		{"relayed head", `  /usr/sbin/samba_spnupdate: {"timestamp": "2026-11-28T09:54:04.822620+0000", "type": "dsdbCh`, Fragment, nil, ""},
		{"relayed middle", `  /usr/sbin/samba_spnupdate: ": "HOST/adjoindc"}, {"value": "`, Fragment, nil, ""},
		{"relayed bad JSON", `  samba_kcc: {not json}`, Fragment, nil, ""},
		{"truncated event", "  " + ev[:60], AuditEvent, ErrNotJSON, "truncated or malformed object"},
		{"two objects", "  " + ev + ev, AuditEvent, ErrNotJSON, "more after the object"},
		{"no timestamp", `  {"type": "dsdbChange", "dsdbChange": {}}`, AuditEvent, ErrMissingField, `"timestamp"`},
		{"null timestamp", `  {"timestamp": null, "type": "dsdbChange", "dsdbChange": {}}`, AuditEvent, ErrMissingField, `"timestamp"`},
		{"no type", `  {"timestamp": "2026-11-28T09:56:19.117196+0000", "dsdbChange": {}}`, AuditEvent, ErrMissingField, `"type"`},
		{"empty type", `  {"timestamp": "2026-11-28T09:56:19.117196+0000", "type": ""}`, AuditEvent, ErrMissingField, `"type" is empty`},
		{"no body", `  {"timestamp": "2026-11-28T09:56:19.117196+0000", "type": "groupChange"}`, AuditEvent, ErrMissingField, `the object of type "groupChange"`},
		{"body not an object", `  {"timestamp": "2026-11-28T09:56:19.117196+0000", "type": "groupChange", "groupChange": [1]}`, AuditEvent, ErrInvalid, "an array"},
		{"type not a string", `  {"timestamp": "2026-11-28T09:56:19.117196+0000", "type": 4, "4": {}}`, AuditEvent, ErrInvalid, `"type" is a number`},
		{"bad timestamp", `  {"timestamp": "28/11/2026 09:56", "type": "groupChange", "groupChange": {}}`, AuditEvent, ErrInvalid, `"28/11/2026 09:56"`},
		{"array", `  [1, 2]`, Text, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, ev, err := Parse([]byte(tt.line))
			if kind != tt.wantKind {
				t.Errorf("kind = %s, want %s", kind, tt.wantKind)
			}
			if !errors.Is(err, tt.wantErr) || (err != nil && !strings.Contains(err.Error(), tt.wantIn)) {
				t.Fatalf("err = %v, want %v with %q", err, tt.wantErr, tt.wantIn)
			}
			if (err == nil && kind == AuditEvent) != (ev != nil) {
				t.Fatalf("event = %+v for kind %s, err %v", ev, kind, err)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-11-28T09:56:19.117196+0000": "2026-11-28T09:56:19.117196Z",
		"2020-07-27T14:57:53.200820+0200": "2020-07-27T12:57:53.20082Z",
		"2026-11-28T09:56:19Z":            "2026-11-28T09:56:19Z",
	} {
		got, err := parseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("parseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}
