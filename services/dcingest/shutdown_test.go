package dcingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestSIGTERMMidIngestLosesAndRepeatsNothing runs the real adjoin-dcingest binary, sends it
// SIGTERM while a large batch is being posted, and checks the contract of a rolling restart:
// the process exits 0 within its grace period; a batch answered 200 is wholly stored; a batch
// that was not answered 200 is resent to the next process, after which DC_EVENTS holds every
// line exactly once.
func TestSIGTERMMidIngestLosesAndRepeatsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	body := sample.Read(t, "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json")
	lines := bytes.Count(body, []byte("\n"))
	bin := filepath.Join(t.TempDir(), "adjoin-dcingest")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/adjoin-dcingest").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	s := natstest.Start(t)

	start := func() (*exec.Cmd, string) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(bin, "--nats-url", s.ClientURL(), "--http-addr", addr, "--shutdown-grace", "20s", "--log-level", "warn")
		logFile, err := os.Create(filepath.Join(t.TempDir(), "dcingest.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return cmd, addr
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("dcingest not ready at %s", addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	postAll := func(addr string) (int, intake.Response, error) {
		resp, err := http.Post("http://"+addr+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return 0, intake.Response{}, err
		}
		defer resp.Body.Close()
		var r intake.Response
		err = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r, err
	}

	cmd, addr := start()
	type result struct {
		code int
		resp intake.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, r, err := postAll(addr)
		done <- result{code, r, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the batch get under way; the outcome is checked either way
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("dcingest exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("dcingest did not exit within 30s of SIGTERM")
	}
	first := <-done
	t.Logf("first post: status %d accepted %d err %v", first.code, first.resp.Accepted, first.err)
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
	if first.err == nil && first.code == http.StatusOK {
		if first.resp.Accepted != lines || stored() != uint64(lines) {
			t.Fatalf("answered 200 for %d lines but DC_EVENTS holds %d of %d", first.resp.Accepted, stored(), lines)
		}
		return
	}
	// Not acknowledged: the sender resends the whole batch to the restarted ingestor.
	cmd2, addr2 := start()
	defer func() { _ = cmd2.Process.Signal(syscall.SIGTERM); _ = cmd2.Wait() }()
	code, r, err := postAll(addr2)
	if err != nil || code != http.StatusOK || r.Accepted != lines {
		t.Fatalf("resend: status %d accepted %d err %v", code, r.Accepted, err)
	}
	if got := stored(); got != uint64(lines) {
		t.Errorf("DC_EVENTS holds %d events after the resend, want exactly %d", got, lines)
	}
	fmt.Fprintf(os.Stderr, "resend reported %d duplicates of %d lines\n", r.Duplicates, lines)
}
