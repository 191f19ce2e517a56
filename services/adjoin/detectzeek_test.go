package adjoin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestDetectZeekTSV: a Zeek ASCII log (OTRF LSASS_campaign_01) is recognised by its header and
// read with its field names, so no row is refused; a row broken by hand is refused by line.
func TestDetectZeekTSV(t *testing.T) {
	t.Parallel()
	log := filepath.Join(sample.Dir(t), "otrf", "zeek", "LSASS_campaign_01", "kerberos.log")
	_, errOut, code := run(t, "detect", log)
	if code != 0 || !strings.Contains(errOut, "Zeek ASCII log (line 1 is a #separator header)") ||
		!strings.Contains(errOut, "(0 lines refused)") || strings.Contains(errOut, " 0 events") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if l != "" && l[0] != '#' {
			lines[i] = "broken"
			break
		}
	}
	broken := filepath.Join(t.TempDir(), "kerberos.log")
	if err := os.WriteFile(broken, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code = run(t, "detect", broken); code != 0 || !strings.Contains(errOut, "(1 lines refused)") {
		t.Fatalf("broken row: exit %d: %s", code, errOut)
	}
}
