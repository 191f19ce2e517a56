package bench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Machine says what a run was measured on and from which source, so runs can be compared.
type Machine struct {
	// Commit is the checked-out commit of the repository the run started in, read from .git
	// (empty outside a checkout).
	Commit     string `json:"commit,omitempty"`
	GoVersion  string `json:"go_version"`
	NATSServer string `json:"nats_server"`
	// CPU is the model name of /proc/cpuinfo; Cores what the Go runtime may use.
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
}

func machine(repoDir string) Machine {
	return Machine{Commit: gitCommit(repoDir), GoVersion: runtime.Version(), NATSServer: server.VERSION,
		CPU: cpuModel(), Cores: runtime.NumCPU()}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// gitCommit reads HEAD from the .git directory of repoDir without running git: a detached
// HEAD names the commit, a branch is looked up in refs/ and then in packed-refs.
func gitCommit(repoDir string) string {
	if repoDir == "" {
		return ""
	}
	gitDir := filepath.Join(repoDir, ".git")
	if b, err := os.ReadFile(gitDir); err == nil { // a worktree: "gitdir: PATH"
		if p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
			gitDir = p
			if !filepath.IsAbs(p) {
				gitDir = filepath.Join(repoDir, p)
			}
		}
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: ")
	if !ok {
		return strings.TrimSpace(string(head))
	}
	common := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common = filepath.Join(gitDir, strings.TrimSpace(string(b)))
	}
	for _, dir := range []string{gitDir, common} {
		if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	packed, err := os.ReadFile(filepath.Join(common, "packed-refs"))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(packed), "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok && name == ref {
			return sha
		}
	}
	return ""
}

// FindUp returns the first directory from dir upwards that holds rel, or "".
func FindUp(dir, rel string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
