package badge_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/badge"
)

// Keys of the OTRF "Shire" lab as services/adjoin/demo/theshire.ldif gives it: no objectGUIDs,
// so every key is the SID.
const (
	shireDomainSID = "S-1-5-21-3669966080-2286457517-972388166"
	keyWardog      = shireDomainSID + "-500"
	keySbeavers    = shireDomainSID + "-1106"
	keyMordorDC    = shireDomainSID + "-1000"
	keyWEC         = shireDomainSID + "-1111"
	keyWS6         = shireDomainSID + "-1112"
	keyWS5         = shireDomainSID + "-1113"
)

func shireUser(sid, sam, display string, privileged bool) *adjoinv1.Entity {
	return &adjoinv1.Entity{
		Key: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid, SamAccountName: sam,
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: sam + "@theshire.local",
		DisplayName: display, Privileged: privileged,
	}
}

func shireComputer(sid, name string) *adjoinv1.Entity {
	return &adjoinv1.Entity{
		Key: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: sid, SamAccountName: name + "$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: name + ".theshire.local",
	}
}

// shire is the lab's directory: the seven accounts of theshire.ldif (its domain object is no
// account and never reaches the bucket).
func shire() []*adjoinv1.Entity {
	return []*adjoinv1.Entity{
		shireUser(keyPgustavo, "pgustavo", "Gustavo Pedro", true),
		shireUser(keyWardog, "wardog", "", true),
		shireUser(keySbeavers, "sbeavers", "Beavers Stevie", false),
		shireComputer(keyMordorDC, "MORDORDC"),
		shireComputer(keyWEC, "WEC"),
		shireComputer(keyWS6, "WORKSTATION6"),
		shireComputer(keyWS5, "WORKSTATION5"),
	}
}

func shireKeys() []string {
	var keys []string
	for _, e := range shire() {
		keys = append(keys, e.GetKey())
	}
	return keys
}

// harness is badge.Run on a loopback listener, backed by a real JetStream server holding the
// Shire directory.
type harness struct {
	nats                               *natstest.Server
	addr                               string
	cfg                                badge.Config
	conn                               *grpc.ClientConn
	client                             adjoinv1.BadgeServiceClient
	directory, badges, devices, config jetstream.KeyValue
	// stop stops the service (also done at the end of the test).
	stop func()
}

// startBadge starts the service with the settings edit makes (nil: defaults) and returns once
// its health check answers SERVING through a connection dialled with dial (none: plaintext).
func startBadge(t testing.TB, edit func(*badge.Config), dial ...grpc.DialOption) *harness {
	t.Helper()
	s := natstest.Start(t)
	h := &harness{nats: s, directory: s.KV(t, natsx.BucketDirectory), badges: s.KV(t, natsx.BucketBadges),
		devices: s.KV(t, natsx.BucketDevices), config: s.KV(t, natsx.BucketConfig)}
	for _, e := range shire() {
		h.put(t, h.directory, e.GetKey(), e)
	}
	h.run(t, edit, dial...)
	return h
}

func (h *harness) run(t testing.TB, edit func(*badge.Config), dial ...grpc.DialOption) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	h.cfg = badge.DefaultConfig()
	h.cfg.NATS.URL, h.cfg.Listener, h.cfg.HTTPAddr = h.nats.ClientURL(), ln, ""
	h.cfg.ShutdownGrace, h.cfg.MaxConcurrentStreams, h.cfg.DefaultDeadline = 2*time.Second, 100, 5*time.Second
	if edit != nil {
		edit(&h.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	done := make(chan error, 1)
	go func() { done <- badge.Run(ctx, h.cfg, zap.NewNop()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v after cancel", err)
			}
		case <-time.After(h.cfg.ShutdownGrace + 5*time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	h.conn = h.dial(t, dial...)
	h.client = adjoinv1.NewBadgeServiceClient(h.conn)
	health := healthpb.NewHealthClient(h.conn)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after 15s: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial opens a client connection closed at the end of the test (before the service stops).
func (h *harness) dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(h.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (h *harness) put(t testing.TB, kv jetstream.KeyValue, key string, m proto.Message) {
	t.Helper()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), key, data); err != nil {
		t.Fatalf("put %s/%s: %v", kv.Bucket(), key, err)
	}
}

func (h *harness) putConfig(t testing.TB, key, value string) {
	t.Helper()
	if _, err := h.config.PutString(context.Background(), key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// publish stores m on subject with message id id and returns its stream sequence.
func (h *harness) publish(t testing.TB, subject, id string, m proto.Message) uint64 {
	t.Helper()
	msg, err := natsx.NewMsg(subject, id, m)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := h.nats.JS.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	if ack.Duplicate {
		t.Fatalf("publish %s id %s: duplicate", subject, id)
	}
	return ack.Sequence
}

func (h *harness) get(t testing.TB, sel *adjoinv1.EntitySelector) (*adjoinv1.Badge, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := h.client.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: sel})
	return resp.GetBadge(), err
}

// rpcCtx is a context for one call, ended with the test.
func rpcCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func bySID(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: s}}
}

func byQuery(q string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: q}}
}

// badgeSays is a check of a badge, for eventually.
func badgeSays(h *harness, t testing.TB, sel *adjoinv1.EntitySelector, check func(*adjoinv1.Badge) error) func() error {
	return func() error {
		b, err := h.get(t, sel)
		if err != nil {
			return err
		}
		return check(b)
	}
}

func sideIs(s *adjoinv1.SideBadge, known bool, reason adjoinv1.GreyedReason, total int64) error {
	if s.GetKnown() != known || s.GetGreyedReason() != reason || s.GetTotal() != total {
		return fmt.Errorf("%s badge known=%v reason=%s total=%d, want %v %s %d", s.GetSide(), s.GetKnown(),
			s.GetGreyedReason(), s.GetTotal(), known, reason, total)
	}
	return nil
}
