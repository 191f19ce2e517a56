package dcingest_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestSambaLogAcrossRestarts follows a Samba DC's log as Samba writes it (the captured sample,
// appended in three steps, the first ending in the middle of a line) with the real service,
// restarted between steps: DC_EVENTS ends with every audit event exactly once, nothing is
// dead-lettered, the offsets are kept under their own prefix, and the scenario's alerts are
// raised.
func TestSambaLogAcrossRestarts(t *testing.T) {
	s := natstest.Start(t)
	var log []byte
	for _, name := range []string{"samba-start.log", "samba-audit.log"} {
		b, err := os.ReadFile(sambaTestdata(name))
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b...)
	}
	events := len(sambaEvents(t, "adjoindc.adjoin.test", "samba-start.log", "samba-audit.log"))
	// Step 1 ends halfway through the first line of the scenario's second half.
	half := bytes.IndexByte(log[len(log)/2:], '\n') + len(log)/2 + 1
	cut := half + bytes.IndexByte(log[half:], '\n')/2
	firstEvents := eventsIn(t, log[:half])
	if firstEvents == 0 || firstEvents >= events {
		t.Fatalf("%d events in the first half of %d", firstEvents, events)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "samba.log")
	appendFile := func(b []byte) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.ShutdownGrace, cfg.HTTP.TailPoll = s.ClientURL(), time.Second, 50*time.Millisecond
	cfg.Samba = dcingest.SambaConfig{Log: filepath.Join(dir, "*.log"), DC: "adjoindc.adjoin.test"}
	appendFile(log[:cut])
	runUntil(t, cfg, func() bool { return streamCount(t, s.JS, natsx.StreamDCEvents) == uint64(firstEvents) })
	appendFile(log[cut:])
	runUntil(t, cfg, func() bool { return streamCount(t, s.JS, natsx.StreamDCEvents) == uint64(events) })
	// Nothing new: a third run stores nothing more, and the detectors have had their turn.
	runUntil(t, cfg, func() bool { return len(alertDetectors(t, s.JS)) == 4 })
	if got := streamCount(t, s.JS, natsx.StreamDCEvents); got != uint64(events) {
		t.Errorf("DC_EVENTS holds %d after an idle restart, want %d", got, events)
	}
	if n := streamCount(t, s.JS, natsx.StreamDeadLetter); n != 0 {
		t.Errorf("DEADLETTER holds %d, want 0", n)
	}
	want := []string{"account-enumeration", "password-brute-force", "password-spray", "privileged-group-addition"}
	if got := alertDetectors(t, s.JS); !slices.Equal(got, want) {
		t.Errorf("alerts from %v, want %v", got, want)
	}
	kv, err := s.JS.KeyValue(context.Background(), natsx.BucketStatus)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var offsets []string
	for k := range keys.Keys() {
		if strings.HasPrefix(k, "tail.") {
			offsets = append(offsets, k)
		}
	}
	if len(offsets) != 1 || !strings.HasPrefix(offsets[0], "tail.dcingest.samba.") {
		t.Errorf("offset keys %v, want one under tail.dcingest.samba.", offsets)
	}
}

// eventsIn counts the audit events among complete lines.
func eventsIn(t *testing.T, b []byte) int {
	t.Helper()
	parse, n := intake.ParseSamba("x"), 0
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if _, err := parse(line, ""); err == nil {
			n++
		}
	}
	return n
}

// runUntil runs the service until done holds (polling), then stops it.
func runUntil(t *testing.T, cfg dcingest.Config, done func() bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- dcingest.Run(ctx, cfg, zap.NewNop()) }()
	deadline := time.Now().Add(30 * time.Second)
	for ready := false; !ready || !done(); {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not done within 30s (ready %v)", ready)
		}
		time.Sleep(50 * time.Millisecond)
		if resp, err := http.Get("http://" + ln.Addr().String() + "/readyz"); err == nil {
			resp.Body.Close()
			ready = ready || resp.StatusCode == http.StatusOK
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func streamCount(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// alertDetectors lists the detectors with an alert on ALERTS, sorted, each once.
func alertDetectors(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var a adjoinv1.Alert
		if err := proto.Unmarshal(m.Data, &a); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(out, a.GetDetector()) {
			out = append(out, a.GetDetector())
		}
	}
	slices.Sort(out)
	return out
}
