package intake

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// sambaSample reads a log captured from the lab Samba DC (pkg/ingest/sambaaudit/testdata/README.md).
func sambaSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "sambaaudit", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSamba(t *testing.T) {
	t.Parallel()
	parse := ParseSamba("adjoindc")
	tests := []struct {
		name       string
		line       string
		wantSkip   bool
		wantReason string // "" for an event
	}{
		{"header", `[2026/11/28 09:54:03.092625,  0] ../../source4/samba/server.c:621(binary_smbd_main)`, true, ""},
		{"text", `  samba version 4.17.12-Debian started.`, true, ""},
		{"fragment", `  /usr/sbin/samba_spnupdate: bHost/ADJOINDC"}, {"value": "RestrictedKrbHost/adjoindc.adjoin.test"}]}]}}}}`, true, ""},
		{"event", `  {"timestamp": "2026-11-28T10:05:03.443775+0000", "type": "passwordChange", "passwordChange": {"eventId": 4724, "dn": "CN=sa_pippin,CN=Users,DC=adjoin,DC=test"}}`, false, ""},
		{"truncated", `  {"timestamp": "2026-11-28T10:05:03.443775+0000", "type": "passwo`, false, "not-json"},
		{"no type", `  {"timestamp": "2026-11-28T10:05:03.443775+0000"}`, false, "missing-field"},
		{"bad time", `  {"timestamp": "yesterday", "type": "x", "x": {}}`, false, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := parse([]byte(tt.line), "")
			var le *LineError
			switch {
			case tt.wantSkip:
				if !errors.Is(err, ErrSkip) || ev != nil {
					t.Fatalf("got %v, %v; want ErrSkip", ev, err)
				}
			case tt.wantReason != "":
				if !errors.As(err, &le) || le.Reason != tt.wantReason {
					t.Fatalf("got %v; want a LineError %s", err, tt.wantReason)
				}
			case err != nil || ev.GetHost() != "adjoindc" || ev.GetEventId() != 4724:
				t.Fatalf("got %v, %v; want the 4724 of adjoindc", ev, err)
			}
		})
	}
}

// A Samba log posted with ?format=samba: events stored, Samba's own lines skipped and counted,
// broken event lines refused and dead-lettered; no host, no parse.
func TestHandlerSambaFormat(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	h.Formats = map[string]RequestParser{SambaFormat: func(q url.Values) (Parser, error) {
		if q.Get("host") == "" {
			return nil, errors.New("host= is required")
		}
		return ParseSamba(q.Get("host")), nil
	}}
	truncated := `  {"timestamp": "2026-11-28T10:05:03.443775+0000", "type": "passwo`
	body := sambaSample(t, "samba-start.log") + truncated + "\n" + sambaSample(t, "samba-audit.log")
	status, resp := post(t, h, body, postOpts{query: "?format=samba&host=adjoindc.adjoin.test"})
	// samba-start.log: 3 events, 33 other lines; samba-audit.log: 183 events, 6 other lines.
	if status != 200 || resp.Accepted != 186 || resp.Skipped != 39 || resp.Duplicates != 0 ||
		!slices.Equal(rejectedLines(resp.Rejected), []string{"37:not-json"}) {
		t.Fatalf("status %d, response %+v", status, resp)
	}
	events := storedMsgs(t, srv.JS, natsx.StreamDCEvents)
	subjects := map[string]int{}
	for _, m := range events {
		subjects[m.Subject]++
	}
	for subject, want := range map[string]int{
		"events.dc.security.4771": 12, "events.dc.security.4768": 13, "events.dc.security.4625": 22,
		"events.dc.security.4728": 18, "events.dc.security.4724": 18, "events.dc.samba_dsdbchange.0": 61,
	} {
		if subjects[subject] != want {
			t.Errorf("%d on %s, want %d (all: %v)", subjects[subject], subject, want, subjects)
		}
	}
	dead := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dead) != 1 || dead[0].Subject != "deadletter.dcingest.not-json" || string(dead[0].Data) != truncated {
		t.Fatalf("dead letters: %d, first %v", len(dead), dead)
	}
	// Sent again: every event is a duplicate, and the skipped lines are still only counted.
	_, again := post(t, h, body, postOpts{query: "?format=samba&host=adjoindc.adjoin.test"})
	if again.Duplicates != 186 || again.Skipped != 39 {
		t.Errorf("second post: %+v", again)
	}

	status, resp = post(t, h, body, postOpts{query: "?format=samba"})
	if status != 400 || !strings.Contains(resp.Error, "format=samba: host= is required") {
		t.Errorf("without host: %d %+v", status, resp)
	}
}
