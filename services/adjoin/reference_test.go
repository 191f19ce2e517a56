package adjoin

import (
	"os"
	"testing"
)

// TestREADMEReferenceIsCurrent fails when the settings or metrics tables of docs/configuration.md
// differ from the definitions (the name keeps `-run README` working). ADJOIN_UPDATE_README=1 rewrites them.
func TestREADMEReferenceIsCurrent(t *testing.T) {
	const path = "../../docs/configuration.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	want, err := Splice(doc, SettingsBegin, SettingsEnd, SettingsReference())
	if err != nil {
		t.Fatal(err)
	}
	if want, err = Splice(want, MetricsBegin, MetricsEnd, MetricsReference()); err != nil {
		t.Fatal(err)
	}
	if want == doc {
		return
	}
	if os.Getenv("ADJOIN_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/configuration.md settings or metrics reference is out of date: run ADJOIN_UPDATE_README=1 go test -run README ./services/adjoin/")
}
