package dcingest_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestTailedFileAcrossRestarts follows a growing NDJSON file with the real service, restarts
// the service in the middle, and checks that DC_EVENTS ends with every line exactly once.
func TestTailedFileAcrossRestarts(t *testing.T) {
	s := natstest.Start(t)
	var lines [][]byte
	for _, l := range bytes.SplitAfter(sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"), []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "security.json")
	write := func(part [][]byte) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(bytes.Join(part, nil)); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() uint64 {
		st, err := s.JS.Stream(context.Background(), natsx.StreamDCEvents)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	run := func(want uint64) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		cfg := dcingest.DefaultConfig()
		cfg.NATS.URL, cfg.HTTP.Listener, cfg.HTTP.ShutdownGrace = s.ClientURL(), ln, time.Second
		cfg.HTTP.Tail, cfg.HTTP.TailPoll = filepath.Join(dir, "*.json"), 50*time.Millisecond
		go func() { done <- dcingest.Run(ctx, cfg, zap.NewNop()) }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("dcingest not ready")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // a few polls of the tailer
		for stored() != want {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("DC_EVENTS holds %d, want %d", stored(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	half := len(lines) / 2
	write(lines[:half])
	run(uint64(half))
	write(lines[half:])
	run(uint64(len(lines)))
	// A third run with nothing new stores nothing more.
	run(uint64(len(lines)))
	time.Sleep(200 * time.Millisecond)
	if got := stored(); got != uint64(len(lines)) {
		t.Errorf("DC_EVENTS holds %d after an idle restart, want %d", got, len(lines))
	}
}
