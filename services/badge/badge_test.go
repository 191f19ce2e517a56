package badge_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
)

const keyPgustavo = "S-1-5-21-3669966080-2286457517-972388166-1104"

func TestConfigValidate(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("read r0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := badge.DefaultConfig()
	good.GRPCAddr = "127.0.0.1:9090"
	tests := []struct {
		name    string
		edit    func(*badge.Config)
		wantErr string // the setting named; "" for valid
	}{
		{"valid", func(*badge.Config) {}, ""},
		{"three replicas", func(c *badge.Config) { c.NATS.Replicas = 3 }, ""},
		{"no nats url", func(c *badge.Config) { c.NATS.URL = "" }, "nats-url"},
		{"zero replicas", func(c *badge.Config) { c.NATS.Replicas = 0 }, "replicas"},
		{"no address", func(c *badge.Config) { c.GRPCAddr = "" }, "grpc-addr"},
		{"no shutdown grace", func(c *badge.Config) { c.ShutdownGrace = 0 }, "shutdown-grace"},
		{"no correlator durable", func(c *badge.Config) { c.CorrelatorDurable = "" }, "correlator-durable"},
		{"no streams per client", func(c *badge.Config) { c.MaxStreamsPerClient = 0 }, "max-streams-per-client"},
		{"no streams", func(c *badge.Config) { c.MaxStreams = 0 }, "max-streams"},
		{"no badge cache", func(c *badge.Config) { c.BadgeCache = 0 }, "badge-cache"},
		// Beyond loopback, someone must be checked, or the operator must say --insecure.
		{"all interfaces without auth", func(c *badge.Config) { c.GRPCAddr = ":9090" }, "grpc-addr"},
		{"all interfaces, insecure", func(c *badge.Config) { c.GRPCAddr, c.Security.Insecure = ":9090", true }, ""},
		{"all interfaces with tokens", func(c *badge.Config) { c.GRPCAddr, c.Security.TokensFile = ":9090", tokens }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestRun starts the service on a test server and a loopback listener: health and reflection
// answer, a badge is served from the directory bucket, and cancelling ctx stops it cleanly.
func TestRun(t *testing.T) {
	s := natstest.Start(t)
	ctx := context.Background()
	user := &adjoinv1.Entity{
		Key: keyPgustavo, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
	}
	data, err := proto.Marshal(user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.KV(t, natsx.BucketDirectory).Put(ctx, keyPgustavo, data); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := badge.DefaultConfig()
	cfg.NATS.URL, cfg.Listener, cfg.HTTPAddr, cfg.ShutdownGrace = s.ClientURL(), ln, "", 5*time.Second
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- badge.Run(runCtx, cfg, zap.NewNop()) }()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rpc := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }

	health := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", adjoinv1.BadgeService_ServiceDesc.ServiceName} {
		testkit.Eventually(t, 10*time.Second, func() error {
			c, cancel := rpc()
			defer cancel()
			resp, err := health.Check(c, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil {
				return err
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("health of %q: %s", svc, resp.GetStatus())
			}
			return nil
		})
	}
	c, cancelRPC := rpc()
	_, err = health.Check(c, &healthpb.HealthCheckRequest{Service: "adjoin.v1.NoSuchService"})
	cancelRPC()
	if status.Code(err) != codes.NotFound {
		t.Errorf("health of an unknown service: %v, want NotFound", err)
	}

	t.Run("reflection lists the service", func(t *testing.T) {
		c, cancel := rpc()
		defer cancel()
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""},
		}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		for _, want := range []string{"adjoin.v1.BadgeService", "grpc.health.v1.Health"} {
			if !slices.Contains(names, want) {
				t.Errorf("reflection lists %v, missing %s", names, want)
			}
		}
	})

	t.Run("badge from the directory bucket", func(t *testing.T) {
		c, cancel := rpc()
		defer cancel()
		resp, err := adjoinv1.NewBadgeServiceClient(conn).GetBadge(c, &adjoinv1.GetBadgeRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: `THESHIRE\pgustavo`}},
		})
		if err != nil {
			t.Fatal(err)
		}
		b := resp.GetBadge()
		if b.GetEntity().GetKey() != keyPgustavo || !b.GetIdentity().GetKnown() || !b.GetIntegrationEnabled() ||
			b.GetEndpoint().GetGreyedReason() != adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN {
			t.Errorf("badge %v", b)
		}
	})

	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(cfg.ShutdownGrace + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %s to stop with no RPC in flight", d)
	}
	c, cancelRPC = rpc()
	defer cancelRPC()
	if _, err := health.Check(c, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("health still answers after Run returned")
	}
}
