package adjoin

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCLIAgainstDevStack(t *testing.T) {
	s := startStack(t)
	if _, code := post(t, s.DCURL, sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	s.settled(t)
	addr := "--badge-addr=" + s.GRPCAddr
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // substrings of stdout (or stderr when the code is not 0)
	}{
		{"alerts of pgustavo", []string{"alerts", addr, `THESHIRE\pgustavo`}, 0,
			[]string{"identity", "HIGH", "Suspected DCSync", "[dcsync]", "1 of 1 alert(s)"}},
		{"status", []string{"status", addr}, 0,
			[]string{"integration ON", "identity  on   869 events, 1 alerts", "toggled by unknown", "directory 7 entities",
				"service dcingest", "service correlator", "service badge", "up, last seen"}},
		{"integration off", []string{"integration", addr, "off", "endpoint"}, 0, []string{"integration OFF", "endpoint  off", "toggled by peer:127.0.0.1:"}},
		{"badge greyed while off", []string{"badge", "get", addr, "pgustavo"}, 0,
			[]string{"integration is off", "greyed: integration off"}},
		{"integration on", []string{"integration", addr, "on", "endpoint"}, 0, []string{"integration ON"}},
		{"badge live again", []string{"badge", "get", addr, "pgustavo"}, 0, []string{"identity  1 alert(s), 1 open, highest HIGH"}},
		{"unknown entity", []string{"badge", "get", addr, `THESHIRE\nobody`}, 1, []string{"not found"}},
		{"bad side", []string{"integration", addr, "off", "cloud"}, 2, []string{"usage: adjoin integration"}},
		{"unreachable", []string{"status", "--badge-addr=127.0.0.1:1", "--timeout=2s"}, 1, []string{"unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			text := out
			if code != 0 {
				text = errOut
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestIngestReplaysThroughTheStack(t *testing.T) {
	s := startStack(t)
	file := sample.Dir(t) + "/otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"
	_, errOut, code := run(t, "ingest", "dc", "--nats-url", s.NATSURL, "--quiet", file)
	if code != 0 || !strings.Contains(errOut, "ingested 869 events (0 already stored, 0 lines refused)") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s.settled(t)
	if got := s.badge(t, `THESHIRE\pgustavo`).GetIdentity().GetTotal(); got != 1 {
		t.Errorf("pgustavo identity total = %d after adjoin ingest, want 1", got)
	}
	_, errOut, code = run(t, "ingest", "dc", "--nats-url", s.NATSURL, "--quiet", file)
	if code != 0 || !strings.Contains(errOut, "ingested 869 events (869 already stored") {
		t.Errorf("second ingest: exit %d: %s", code, errOut)
	}
	if _, errOut, code = run(t, "ingest", "dc", "--nats-url", "nats://127.0.0.1:1", "--connect-timeout", "1s", file); code != 1 || !strings.Contains(errOut, "is the stack running?") {
		t.Errorf("unreachable NATS: exit %d: %s", code, errOut)
	}
	// A Samba AD DC's log, as Samba writes it (captured from the lab DC, pkg/ingest/sambaaudit/testdata):
	// 183 audit events; Samba's own lines are skipped, not refused.
	samba := filepath.Join("..", "..", "pkg", "ingest", "sambaaudit", "testdata", "samba-audit.log")
	_, errOut, code = run(t, "ingest", "dc", "--nats-url", s.NATSURL, "--quiet", "--format", "samba", "--samba-dc", "adjoindc.adjoin.test", samba)
	if code != 0 || !strings.Contains(errOut, "ingested 183 events (0 already stored, 0 lines refused, 6 lines without an event skipped)") {
		t.Errorf("samba log: exit %d: %s", code, errOut)
	}
	if _, errOut, code = run(t, "ingest", "dc", "--nats-url", s.NATSURL, "--format", "samba", samba); code != 1 || !strings.Contains(errOut, "--samba-dc must name") {
		t.Errorf("samba log without --samba-dc: exit %d: %s", code, errOut)
	}
}

// TestHelpSaysWhatAndHow: every command's --help starts with what it does, then its command
// line with its arguments and an example, and exits 0; so do `adjoin ingest --help` and
// `adjoin badge --help` (they exited 2), and `adjoin --version` names the module and commit.
func TestHelpSaysWhatAndHow(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		args := append(strings.Fields(c.name), "--help")
		if c.name == "ingest" {
			args = []string{"ingest", "endpoint", "--help"}
		}
		out, errOut, code := run(t, args...)
		first, _, _ := strings.Cut(c.about, "\n")
		if code != 0 || !strings.HasPrefix(out, first) || !strings.Contains(out, "\nUsage: adjoin "+c.name+" "+c.args+"\n") ||
			!strings.Contains(out, "\nExample:\n  ") || !strings.Contains(out, "(env ADJOIN_") {
			t.Errorf("adjoin %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	for _, group := range []string{"ingest", "badge"} {
		out, errOut, code := run(t, group, "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: adjoin "+group+" ") || !strings.Contains(out, "--help\" for the flags") {
			t.Errorf("adjoin %s --help: exit %d\n%s%s", group, code, out, errOut)
		}
		if _, errOut, code := run(t, group); code != 2 || !strings.Contains(errOut, "Usage: adjoin "+group) {
			t.Errorf("adjoin %s alone: exit %d, want 2 with the usage: %s", group, code, errOut)
		}
	}
	out, _, code := run(t, "--help")
	if code != 0 || !strings.HasPrefix(out, "adjoin joins") || !strings.Contains(out, "Example:") {
		t.Errorf("adjoin --help: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "adjoin github.com/adjoin/adjoin/services/adjoin ") || !strings.Contains(out, ", commit ") {
		t.Errorf("adjoin --version: exit %d: %q", code, out)
	}
	// A bad flag says what was expected: the command line and where the flags are listed.
	_, errOut, code := run(t, "alerts", "--nope", "x")
	if code != 2 || !strings.Contains(errOut, "usage: adjoin alerts [flags] NAME (adjoin alerts --help lists the flags)") {
		t.Errorf("adjoin alerts --nope: exit %d: %s", code, errOut)
	}
}
