package svcmain

import (
	"runtime/debug"
	"testing"
)

// TestVersion: --version names the module, its version, the commit and Go; the linker's commit
// wins over the build's, and a build without either says so instead of printing nothing.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/adjoin/adjoin/services/badge", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "568a2df0"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tt := range []struct{ linked, want string }{
		{"", "github.com/adjoin/adjoin/services/badge (devel), commit 568a2df0+dirty, go1.26.8"},
		{"f102405", "github.com/adjoin/adjoin/services/badge (devel), commit f102405, go1.26.8"},
	} {
		if got := version(bi, tt.linked); got != tt.want {
			t.Errorf("version(linked %q) = %q, want %q", tt.linked, got, tt.want)
		}
	}
	bi.Settings = nil
	if got, want := version(bi, ""), "github.com/adjoin/adjoin/services/badge (devel), commit unknown, go1.26.8"; got != want {
		t.Errorf("version without VCS = %q, want %q", got, want)
	}
}
