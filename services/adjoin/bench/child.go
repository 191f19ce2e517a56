package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// binaries returns where adjoin-correlator and adjoin-badge are: binDir, else beside the
// running executable, else built with `go build` from repoDir into workDir.
func binaries(ctx context.Context, binDir, repoDir, workDir string, progress io.Writer) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"adjoin-correlator", "adjoin-badge"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if binDir != "" {
		if !has(binDir) {
			return "", fmt.Errorf("bin-dir %s: adjoin-correlator and adjoin-badge not both there", binDir)
		}
		return binDir, nil
	}
	if exe, err := os.Executable(); err == nil && has(filepath.Dir(exe)) {
		return filepath.Dir(exe), nil
	}
	if repoDir == "" {
		return "", errors.New("adjoin-correlator and adjoin-badge not found beside this binary and no go.work above: give --bin-dir")
	}
	out := filepath.Join(workDir, "bin")
	fmt.Fprintf(progress, "bench: building adjoin-correlator and adjoin-badge into %s\n", out)
	goCmd, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on a test's PATH
	if err != nil {
		return "", fmt.Errorf("building the services needs the go command: %w (or give --bin-dir)", err)
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-buildvcs=false", "-o", out+string(filepath.Separator),
		"./services/correlator/cmd/adjoin-correlator", "./services/badge/cmd/adjoin-badge")
	cmd.Dir = repoDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return out, nil
}

// child is a service binary running against the harness's server. Its JSON log is read for
// the address it listens on (sent on addr once) and its warnings and errors, which go to the
// progress stream; done receives how it ended.
type child struct {
	cmd      *exec.Cmd
	addr     chan string
	done     chan error
	stopping atomic.Bool // once set, its complaints about being stopped are not passed on
}

// startChild runs bin with args and the environment less every ADJOIN_* setting, so only the
// flags configure it; listenMsg is the log message that carries its address.
func startChild(ctx context.Context, bin string, args []string, listenMsg string, progress io.Writer) (*child, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADJOIN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	name := filepath.Base(bin)
	c := &child{cmd: cmd, addr: make(chan string, 1), done: make(chan error, 1)}
	go func() {
		var tail []string // the last log lines, for an error
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Level, Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				switch {
				case line.Msg == listenMsg:
					c.addr <- line.Addr
				case (line.Level == "warn" || line.Level == "error") && !c.stopping.Load():
					fmt.Fprintf(progress, "bench:   %s: %s\n", name, sc.Text())
				}
			}
			tail = append(tail[max(0, len(tail)-9):], sc.Text())
		}
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%s: %w: %s", name, err, strings.Join(tail, "\n"))
		}
		c.done <- err
	}()
	return c, nil
}

// stop sends SIGTERM and waits, and kills after 10s.
func (c *child) stop() {
	c.stopping.Store(true)
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		c.done <- <-c.done
	}
}

// procStatus reads VmRSS and VmHWM (the peak) of pid, in bytes.
func procStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: %q", pid, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rss, hwm, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
