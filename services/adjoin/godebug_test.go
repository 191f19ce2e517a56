package adjoin

import (
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinariesReachSambaLDAPS: Samba's self-generated LDAPS certificates may have a negative
// serial number, which Go refuses unless the binary says otherwise; both binaries that can run
// the LDAP sync (adjoin-dcingest, and adjoin for `adjoin dev --ldap-url`) must say so.
func TestBinariesReachSambaLDAPS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/adjoin/adjoin/services/adjoin/cmd/adjoin", "github.com/adjoin/adjoin/services/dcingest/cmd/adjoin-dcingest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range []string{"adjoin", "adjoin-dcingest"} {
		info, err := buildinfo.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var godebug string
		for _, s := range info.Settings {
			if s.Key == "DefaultGODEBUG" {
				godebug = s.Value
			}
		}
		if !strings.Contains(godebug, "x509negativeserial=1") {
			t.Errorf("%s: DefaultGODEBUG %q lacks x509negativeserial=1 (//go:debug in its main package)", name, godebug)
		}
	}
}
