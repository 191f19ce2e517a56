package adjoin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func TestDetectOffline(t *testing.T) {
	t.Parallel()
	s1 := filepath.Join(sample.Dir(t), "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{\"EventID\":4662}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "detect", "--directory-ldif", "demo/theshire.ldif", s1, bad)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	detectors := map[string]string{}
	for _, l := range lines {
		var a struct {
			Detector string `json:"detector"`
			Entities []struct {
				SamAccountName string `json:"samAccountName"`
				DNSHostName    string `json:"dnsHostName"`
			} `json:"entities"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		names := []string{}
		for _, e := range a.Entities {
			names = append(names, e.SamAccountName+e.DNSHostName)
		}
		detectors[a.Detector] = strings.Join(names, ",")
	}
	want := map[string]string{
		"dcsync":                        "pgustavo,MORDORDC.theshire.local,",
		"user-binary-to-domain-service": "WORKSTATION5.theshire.local,pgustavo",
	}
	for d, ents := range want {
		if got, ok := detectors[d]; !ok || !strings.HasPrefix(got, strings.TrimSuffix(ents, ",")) {
			t.Errorf("detector %s entities = %q (present %v), want %q", d, got, ok, ents)
		}
	}
	for _, w := range []string{"bad.json:1: missing-field", "bad.json:2: not-json", "869 events (2 lines refused)"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

// A Samba AD DC's log, captured from the lab DC, gives the alerts of its scenario offline,
// whether it is named by --format samba or recognised by its lines; stderr says which and why.
func TestDetectSambaLog(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "pkg", "ingest", "sambaaudit", "testdata")
	log := filepath.Join(dir, "samba-audit.log")
	const alerts = "4 alerts, account-enumeration 1, password-brute-force 1, password-spray 1, privileged-group-addition 1"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"named", []string{"--format", "samba", "--samba-dc", "adjoindc.adjoin.test"}, []string{
			`Samba AD DC log (--format samba); the DC is "adjoindc.adjoin.test" (--samba-dc)`}},
		{"recognised", nil, []string{
			`samba-audit.log: Samba AD DC log (line 1 is a Samba Authentication audit event); the DC is "adjoindc" (the name Samba gives itself in simple binds)`}},
		{"recognised, DC named", []string{"--samba-dc", "adjoindc.adjoin.test"}, []string{
			`Samba AD DC log (line 1 is a Samba Authentication audit event); the DC is "adjoindc.adjoin.test" (--samba-dc)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"detect"}, tt.args...), "--directory-ldif", filepath.Join(dir, "accounts.ldif"), log)
			_, errOut, code := run(t, args...)
			for _, w := range append(tt.want, "183 events (0 lines refused)", alerts) {
				if code != 0 || !strings.Contains(errOut, w) {
					t.Errorf("exit %d, stderr lacks %q:\n%s", code, w, errOut)
				}
			}
		})
	}
}

// How a file is read is decided on its first detectSniffLines lines: a Samba header past them
// is not looked at, and a Windows event before any Samba line makes the file Windows events.
func TestDetectRecognisesFormatWithinBound(t *testing.T) {
	t.Parallel()
	const header = "[2026/11/28 09:54:03.092625,  0] ../../source4/smbd/server.c:621(binary_smbd_main)"
	text := strings.Repeat("  samba version 4.17.12-Debian started.\n", detectSniffLines-1)
	windows := `{"EventID":4624,"Channel":"Security","Hostname":"WS1","EventTime":"2020-09-21 18:59:08"}`
	tests := []struct {
		name, content, want string
	}{
		{"header at the last line looked at", text + header + "\n", "line 200 is a Samba log header"},
		{"header past the bound", text + "x\n" + header + "\n", "no Samba log header or audit event in the first 200 lines"},
		{"windows first", windows + "\n" + header + "\n", "Windows or Zeek events, each line by its shape (line 1 is a JSON event, not Samba's)"},
		{"no newline at the end", header, "line 1 is a Samba log header"},
		{"empty", "", "no Samba log header or audit event in the first 0 lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "in.log")
			if err := os.WriteFile(f, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := run(t, "detect", f)
			if code != 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr lacks %q:\n%s", code, tt.want, errOut)
			}
		})
	}
}
