package adjoin

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestDevStopsCleanlyOnSIGINT runs `adjoin dev` as `make run` does, its logs going to a pipe (as
// to a file): Ctrl-C (SIGINT) stops it with exit 0 and a "stopped cleanly" log line (it used to
// stop without a word), and the console logs carry no ANSI colour codes off a terminal.
func TestDevStopsCleanlyOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bin/adjoin")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "adjoin")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/adjoin/adjoin/services/adjoin/cmd/adjoin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "dev", "--dir", filepath.Join(dir, "data"), "--nats-port", "-1", "--dc-port", "0",
		"--endpoint-port", "0", "--correlator-port", "0", "--grpc-port", "0", "--badge-http-port", "0")
	cmd.Env = append(os.Environ(), "NO_COLOR=") // colours depend on the terminal alone here
	var logs bytes.Buffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The correlator's health URL is the last address printed before "Try:".
	health := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		url := ""
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "correlator" && f[1] == "health" && url == "" {
				url = f[2]
				health <- url
			}
		}
		if url == "" {
			health <- ""
		}
	}()
	var url string
	select {
	case url = <-health:
		if url == "" {
			cmd.Wait() //nolint:errcheck // the logs say why
			t.Fatalf("adjoin dev ended before it ran:\n%s", logs.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill() //nolint:errcheck // the test fails anyway
		cmd.Wait()         //nolint:errcheck // the test fails anyway
		t.Fatalf("adjoin dev not running after 60 s:\n%s", logs.String())
	}
	testkit.Eventually(t, 30*time.Second, func() error { return httpOK(url) })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("adjoin dev after SIGINT: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill() //nolint:errcheck // the test fails anyway
		t.Fatalf("adjoin dev still running 60 s after SIGINT:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("no clean-shutdown line in the logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "\x1b[") {
		t.Errorf("the logs written to a pipe carry ANSI colour codes:\n%q", logs.String())
	}
}
