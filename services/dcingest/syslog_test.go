package dcingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestSyslogAndProductAlerts runs the service with syslog over TCP and the product alert door:
// real S1 events sent as RFC 5424 syslog over TCP are stored and raise the DCSync alert; a
// Graph alert posted twice, the second time resolved, is one alert with two versions.
func TestSyslogAndProductAlerts(t *testing.T) {
	s := natstest.Start(t)
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	httpAddr, syslogAddr := free(), free()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.HTTPAddr, cfg.HTTP.ShutdownGrace, cfg.HTTP.SyslogTCPAddr = s.ClientURL(), httpAddr, time.Second, syslogAddr
	go func() { done <- dcingest.Run(ctx, cfg, zap.NewNop()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var conn net.Conn
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", syslogAddr)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("syslog port never opened")
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer conn.Close()
	s1 := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	var sent int
	for _, line := range bytes.Split(bytes.TrimSpace(s1), []byte("\n")) {
		msg := fmt.Sprintf("<86>1 2020-08-05T06:10:03Z MORDORDC nxlog - - - %s", line)
		if _, err := fmt.Fprintf(conn, "%d %s", len(msg), msg); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	count := func(stream, filter string) uint64 {
		st, err := s.JS.Stream(context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background(), jetstreamFilter(filter))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n
	}
	waitFor := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("every syslog event", func() bool { return count(natsx.StreamDCEvents, "events.dc.>") == uint64(sent) })
	waitFor("the DCSync alert", func() bool { return count(natsx.StreamAlerts, "alerts.identity.dcsync") == 1 })

	graph := func(status string) string {
		return `{"id":"da637551227677560813_-961444813","providerAlertId":"a6b7d2bd-0d4d-4a8f-a4b2-1b8f1e8c0001",` +
			`"serviceSource":"microsoftDefenderForIdentity","title":"Suspected DCSync attack","severity":"high","status":"` + status + `",` +
			`"firstActivityDateTime":"2020-08-05T06:10:02Z","lastActivityDateTime":"2020-08-05T06:10:02Z",` +
			`"lastUpdateDateTime":"2020-08-05T06:1` + map[string]string{"new": "1", "resolved": "5"}[status] + `:00Z",` +
			`"evidence":[{"@odata.type":"#microsoft.graph.security.userEvidence","userAccount":{"accountName":"pgustavo","domainName":"THESHIRE","userSid":"S-1-5-21-3669966080-2286457517-972388166-1104"}}]}`
	}
	for _, st := range []string{"new", "resolved"} {
		resp, err := http.Post("http://"+httpAddr+"/v1/product-alerts", "application/json", strings.NewReader(graph(st)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("product alert %s: %s", st, resp.Status)
		}
	}
	if n := count(natsx.StreamAlerts, "alerts.identity.>"); n != 3 {
		t.Errorf("ALERTS holds %d identity alert versions, want 3 (DCSync + the product alert's two versions)", n)
	}
}

func jetstreamFilter(f string) jetstream.StreamInfoOpt { return jetstream.WithSubjectFilter(f) }
