package adjoin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/adjoin/demo"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/correlator"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// TestSecureStack runs the four services as `adjoin dev` does, but each with its own NATS user
// over mTLS on the shipped configuration after `adjoin provision`, and the badge service with
// the gRPC certificates of `adjoin secrets`. A DCSync and an LSASS read flow to the badges, the
// status page and the admin toggle work, and neither the server nor any service saw a refusal.
func TestSecureStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack on a NATS server with TLS and users")
	}
	srv := startSecureNATS(t)
	srv.provision(t)
	lns := make([]net.Listener, 5)
	for i := range lns {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = l
	}
	secret := func(name string) string { return filepath.Join(srv.secrets, name) }
	m := metrics.New()
	core, logs := observer.New(zap.WarnLevel)
	log := zap.New(core)
	dc := dcingest.DefaultConfig()
	dc.NATS, dc.HTTP.Listener, dc.HTTP.ShutdownGrace, dc.LDIFData, dc.Metrics = srv.settings("dcingest"), lns[0], 5*time.Second, demo.TheShireLDIF, m
	ep := endpointingest.DefaultConfig()
	ep.NATS, ep.HTTP.Listener, ep.HTTP.ShutdownGrace, ep.Metrics = srv.settings("endpointingest"), lns[1], 5*time.Second, m
	co := correlator.DefaultConfig()
	co.NATS, co.Listener, co.Metrics = srv.settings("correlator"), lns[2], m
	bd := badge.DefaultConfig()
	bd.NATS, bd.Listener, bd.HTTPListener, bd.ShutdownGrace, bd.Metrics = srv.settings("badge"), lns[3], lns[4], 5*time.Second, m
	bd.Security = badge.Security{TLSCert: secret("badge-grpc.crt"), TLSKey: secret("badge-grpc.key"),
		TLSClientCA: secret("ca.crt"), AdminCNs: grpcAdminCN}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return dcingest.Run(gctx, dc, log) })
	g.Go(func() error { return endpointingest.Run(gctx, ep, log) })
	g.Go(func() error { return correlator.Run(gctx, co, log) })
	g.Go(func() error { return badge.Run(gctx, bd, log) })
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := g.Wait(); err != nil {
				t.Errorf("services stopped with error: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	for _, l := range []net.Listener{lns[0], lns[1], lns[2], lns[4]} {
		testkit.Eventually(t, 30*time.Second, func() error { return httpOK("http://" + l.Addr().String() + "/readyz") })
	}
	reader := grpcClient(t, lns[3].Addr().String(), srv.secrets, "grpc-read")
	admin := grpcClient(t, lns[3].Addr().String(), srv.secrets, "grpc-admin")

	for _, in := range []struct{ url, file string }{
		{"http://" + lns[0].Addr().String(), "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"},
		{"http://" + lns[1].Addr().String(), "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json"},
	} {
		resp, err := http.Post(in.url+"/v1/events", "application/x-ndjson", bytes.NewReader(sample.Read(t, in.file)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s to %s: %s", in.file, in.url, resp.Status)
		}
	}
	for _, want := range []struct {
		query              string
		identity, endpoint int64
	}{{`THESHIRE\pgustavo`, 1, 1}, {"WORKSTATION6", 0, 2}} {
		testkit.Eventually(t, 30*time.Second, func() error {
			resp, err := reader.GetBadge(context.Background(), &adjoinv1.GetBadgeRequest{
				Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: want.query}}})
			if err != nil {
				return err
			}
			if b := resp.GetBadge(); b.GetIdentity().GetTotal() != want.identity || b.GetEndpoint().GetTotal() != want.endpoint {
				return fmt.Errorf("%s: identity %d endpoint %d, want %d %d", want.query,
					b.GetIdentity().GetTotal(), b.GetEndpoint().GetTotal(), want.identity, want.endpoint)
			}
			return nil
		})
	}
	if _, err := reader.GetIntegrationStatus(context.Background(), &adjoinv1.GetIntegrationStatusRequest{}); err != nil {
		t.Errorf("status page: %v", err)
	}
	toggle := &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: true}
	if _, err := reader.SetIntegration(context.Background(), toggle); status.Code(err) != codes.PermissionDenied {
		t.Errorf("SetIntegration with the read certificate: %v, want PermissionDenied", err)
	}
	if _, err := admin.SetIntegration(context.Background(), toggle); err != nil {
		t.Errorf("SetIntegration with the admin certificate: %v", err)
	}
	stop()

	for _, e := range logs.All() {
		if text := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(strings.ToLower(text), "permissions violation") {
			t.Errorf("a service was refused: %s", text)
		}
	}
	if lines := srv.log.Lines("Violation"); len(lines) > 0 {
		t.Errorf("the server refused: %q", lines)
	}
}

// grpcClient dials the badge service with mTLS as the client certificate name.crt.
func grpcClient(t *testing.T, addr, secrets, name string) adjoinv1.BadgeServiceClient {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(secrets, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(filepath.Join(secrets, name+".crt"), filepath.Join(secrets, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adjoinv1.NewBadgeServiceClient(conn)
}
