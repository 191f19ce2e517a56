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

// A Samba AD DC's log, captured from the lab DC, gives the alerts of its scenario offline.
func TestDetectSambaLog(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "pkg", "ingest", "sambaaudit", "testdata")
	_, errOut, code := run(t, "detect", "--format", "samba", "--samba-dc", "adjoindc.adjoin.test",
		"--directory-ldif", filepath.Join(dir, "accounts.ldif"), filepath.Join(dir, "samba-audit.log"))
	want := "183 events (0 lines refused)"
	if code != 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut,
		"4 alerts, account-enumeration 1, password-brute-force 1, password-spray 1, privileged-group-addition 1") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, errOut, code = run(t, "detect", "--format", "samba", filepath.Join(dir, "samba-audit.log")); code == 0 || !strings.Contains(errOut, "--samba-dc") {
		t.Errorf("without --samba-dc: exit %d: %s", code, errOut)
	}
}
