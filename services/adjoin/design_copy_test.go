package adjoin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestDesignCopyIsCurrent: docs/design.md is the repository's copy of the contract, the
// project's DESIGN.md beside shared/data; it fails when the two differ (copy it again).
func TestDesignCopyIsCurrent(t *testing.T) {
	t.Parallel()
	contract, err := os.ReadFile(filepath.Join(filepath.Dir(sample.Dir(t)), "DESIGN.md"))
	if os.IsNotExist(err) {
		t.Skip("no DESIGN.md beside shared/data")
	}
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(contract, copied) {
		t.Errorf("docs/design.md differs from %s: copy the contract again", filepath.Join(filepath.Dir(sample.Dir(t)), "DESIGN.md"))
	}
}
