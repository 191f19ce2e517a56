package natstest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ConfigOptions reads a nats-server configuration file, such as a shipped one, and changes
// only what a test must own: free loopback ports (client, and cluster when the file has one),
// JetStream data in t.TempDir(), no monitoring port, no signal handling.
func ConfigOptions(t testing.TB, path string) *server.Options {
	t.Helper()
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("config %s: %v", path, err)
	}
	o.Host, o.Port = "127.0.0.1", -1
	o.HTTPPort, o.HTTPSPort, o.HTTPHost = 0, 0, ""
	o.StoreDir = t.TempDir()
	o.NoSigs = true
	if o.Cluster.Port != 0 {
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", -1
		o.Routes = nil
	}
	return o
}

// StartOptions starts a server with o, records its log in log (when not nil), and stops it at
// the end of the test.
func StartOptions(t testing.TB, o *server.Options, log *ServerLog) *server.Server {
	t.Helper()
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	if log != nil {
		s.SetLoggerV2(log, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("server %s not ready after 10s", o.ServerName)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// ServerLog keeps a server's warnings and errors, such as its permissions violations.
type ServerLog struct {
	mu    sync.Mutex
	lines []string
}

// Lines returns the recorded lines that contain substr.
func (l *ServerLog) Lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func (l *ServerLog) add(level, format string, v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, v...))
	l.mu.Unlock()
}

// Noticef implements server.Logger; notices are not kept.
func (l *ServerLog) Noticef(string, ...any) {}

// Warnf implements server.Logger.
func (l *ServerLog) Warnf(format string, v ...any) { l.add("WRN", format, v...) }

// Fatalf implements server.Logger.
func (l *ServerLog) Fatalf(format string, v ...any) { l.add("FTL", format, v...) }

// Errorf implements server.Logger.
func (l *ServerLog) Errorf(format string, v ...any) { l.add("ERR", format, v...) }

// Debugf implements server.Logger; debug lines are not kept.
func (l *ServerLog) Debugf(string, ...any) {}

// Tracef implements server.Logger; trace lines are not kept.
func (l *ServerLog) Tracef(string, ...any) {}
