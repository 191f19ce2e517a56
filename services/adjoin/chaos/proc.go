package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binaries are the programs a scenario runs as child processes.
type Binaries struct {
	NATSServer, DCIngest, EndpointIngest, Correlator, Badge string
}

// Build builds nats-server (from the nats-server Go module this module requires) and the four
// service binaries into dir. It runs `go build` in the working directory,
// which must be inside the services/adjoin module (a test's is).
func Build(dir string) (Binaries, error) {
	b := Binaries{
		NATSServer:     filepath.Join(dir, "nats-server"),
		DCIngest:       filepath.Join(dir, "adjoin-dcingest"),
		EndpointIngest: filepath.Join(dir, "adjoin-endpointingest"),
		Correlator:     filepath.Join(dir, "adjoin-correlator"),
		Badge:          filepath.Join(dir, "adjoin-badge"),
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/nats-io/nats-server/v2",
		"github.com/adjoin/adjoin/services/dcingest/cmd/adjoin-dcingest",
		"github.com/adjoin/adjoin/services/endpointingest/cmd/adjoin-endpointingest",
		"github.com/adjoin/adjoin/services/correlator/cmd/adjoin-correlator",
		"github.com/adjoin/adjoin/services/badge/cmd/adjoin-badge")
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("go build: %v\n%s", err, out)
	}
	for _, p := range []string{b.NATSServer, b.DCIngest, b.EndpointIngest, b.Correlator, b.Badge} {
		if _, err := os.Stat(p); err != nil {
			return b, fmt.Errorf("go build did not make %s: %w", p, err)
		}
	}
	return b, nil
}

// Proc is a child process that can be started again after it ends, with its output appended
// to one log file across its lives.
type Proc struct {
	Name string
	Path string
	Args []string
	Log  string // log file

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	lives  int
}

// Start starts a new life of the process; the previous one must have ended.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !Closed(p.exited) {
		return fmt.Errorf("%s: already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.lives++
	fmt.Fprintf(f, "--- %s life %d at %s\n", p.Name, p.lives, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = withoutAdjoinEnv(os.Environ())
	cmd.Stdout, cmd.Stderr = f, f
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return nil
}

// Running reports whether the current life has not ended.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !Closed(p.exited)
}

// Kill sends SIGKILL and waits for the process to end. It is an error when the process had
// already ended on its own: a kill that hit nothing proves nothing.
func (p *Proc) Kill() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s: never started", p.Name)
	}
	if Closed(exited) {
		return fmt.Errorf("%s: ended on its own before the kill: %s", p.Name, cmd.ProcessState)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: kill: %w", p.Name, err)
	}
	<-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		return fmt.Errorf("%s: ended with %s, not by the SIGKILL", p.Name, cmd.ProcessState)
	}
	return nil
}

// Stop sends SIGTERM and waits up to grace for a clean exit (status 0), then kills.
func (p *Proc) Stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || Closed(exited) {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("%s: not stopped %s after SIGTERM; killed", p.Name, grace)
	}
	if !cmd.ProcessState.Success() {
		return fmt.Errorf("%s: exited with %s after SIGTERM, want status 0", p.Name, cmd.ProcessState)
	}
	return nil
}

// PeakRSS is the highest resident memory of the current life so far, in bytes (VmHWM); 0
// where the system does not say.
func (p *Proc) PeakRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || Closed(p.exited) {
		return 0
	}
	return peakRSS(p.cmd.Process.Pid)
}

// Lives is how many times the process was started.
func (p *Proc) Lives() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lives
}

// LogTail returns the last n bytes of the process's log, for failure reports.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// RunBriefly runs bin with args and waits up to wait for it to end on its own, then kills it.
// It returns the process's output and its exit error (nil for status 0; an error saying it
// was still running when it had to be killed).
func RunBriefly(ctx context.Context, bin string, wait time.Duration, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, args...)
	cmd.Env = withoutAdjoinEnv(os.Environ())
	dieWithParent(cmd)
	out, err := cmd.CombinedOutput()
	if cctx.Err() != nil {
		return string(out), fmt.Errorf("%s still running after %s: %w", filepath.Base(bin), wait, cctx.Err())
	}
	return string(out), err
}

// Closed reports whether ch is closed, without waiting.
func Closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// withoutAdjoinEnv drops ADJOIN_* settings, so a child runs with the flags given only.
func withoutAdjoinEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ADJOIN_") {
			out = append(out, kv)
		}
	}
	return out
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. They are free when returned; a
// server started soon after gets them in practice.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// DumpGoroutines sends SIGQUIT, which makes a Go program print every goroutine's stack to its
// output and exit, and waits up to wait for it to end. The whole dump is kept in keep (when not
// ""); it returns the goroutines that run adjoin's own code (the rest is the runtime's and the
// libraries' idle machinery), the services' internals first, at most max bytes.
func (p *Proc) DumpGoroutines(wait time.Duration, keep string, max int) string {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || Closed(exited) {
		return p.Name + ": not running"
	}
	before, _ := os.Stat(p.Log)
	if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return p.Name + ": " + err.Error()
	}
	select {
	case <-exited:
	case <-time.After(wait):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	if before != nil && before.Size() <= int64(len(b)) {
		b = b[before.Size():]
	}
	kept := ""
	if keep != "" {
		if err := os.WriteFile(keep, b, 0o644); err == nil {
			kept = "(the whole dump is in " + keep + ")\n"
		}
	}
	return kept + OwnGoroutines(string(b), max)
}

// OwnGoroutines keeps, of a Go stack dump, the goroutines with a frame of adjoin's own
// packages, those in a service's internal packages first, cut at max bytes.
func OwnGoroutines(dump string, max int) string {
	var inner, outer []string
	for _, g := range strings.Split(dump, "\n\n") {
		switch {
		case strings.Contains(g, "github.com/adjoin/adjoin/services/"), strings.Contains(g, "github.com/adjoin/adjoin/pkg/consume"):
			inner = append(inner, g)
		case strings.Contains(g, "github.com/adjoin/adjoin/"):
			outer = append(outer, g)
		}
	}
	var out strings.Builder
	for _, g := range append(inner, outer...) {
		if out.Len()+len(g) > max {
			out.WriteString("[more goroutines cut]\n")
			break
		}
		out.WriteString(g)
		out.WriteString("\n\n")
	}
	return out.String()
}
