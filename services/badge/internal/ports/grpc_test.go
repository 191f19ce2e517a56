package ports_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/badge/internal/adapters"
	"github.com/adjoin/adjoin/services/badge/internal/app"
	"github.com/adjoin/adjoin/services/badge/internal/ports"
)

// Keys of the Shire lab (services/adjoin/demo/theshire.ldif): no objectGUIDs, so SIDs.
const (
	keyPgustavo    = "S-1-5-21-3669966080-2286457517-972388166-1104"
	keyWorkstation = "S-1-5-21-3669966080-2286457517-972388166-1112"
	keyMordorDC    = "S-1-5-21-3669966080-2286457517-972388166-1000"
)

var (
	pgustavo = &adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
		DisplayName: "Gustavo Pedro", Privileged: true,
	}
	workstation6 = &adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: keyWorkstation, SamAccountName: "WORKSTATION6$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: "WORKSTATION6.theshire.local",
	}
	mordordc = &adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: keyMordorDC, SamAccountName: "MORDORDC$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: "MORDORDC.theshire.local",
	}
)

type fixture struct {
	client                  adjoinv1.BadgeServiceClient
	badges, devices, config jetstream.KeyValue
}

// newFixture serves the BadgeService over bufconn, backed by KVStore on a real JetStream server
// and an index holding the Shire lab.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := natstest.Start(t)
	f := &fixture{badges: s.KV(t, natsx.BucketBadges), devices: s.KV(t, natsx.BucketDevices), config: s.KV(t, natsx.BucketConfig)}
	ix := directory.NewIndex()
	for _, e := range []*adjoinv1.Entity{pgustavo, workstation6, mordordc} {
		ix.Put(e)
	}
	store := adapters.KVStore{Badges: f.badges, Devices: f.devices, Config: f.config}

	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	adjoinv1.RegisterBadgeServiceServer(srv, &ports.GRPCServer{Badges: &app.Badges{Index: ix, Store: store}, Log: zap.NewNop()})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f.client = adjoinv1.NewBadgeServiceClient(conn)
	return f
}

func (f *fixture) get(t *testing.T, sel *adjoinv1.EntitySelector) (*adjoinv1.Badge, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.client.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: sel})
	return resp.GetBadge(), err
}

func (f *fixture) put(t *testing.T, kv jetstream.KeyValue, key string, m proto.Message) {
	t.Helper()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (f *fixture) toggle(t *testing.T, side adjoinv1.Side, value string) {
	t.Helper()
	if _, err := f.config.PutString(context.Background(), app.ToggleKey(side), value); err != nil {
		t.Fatal(err)
	}
}

func sid(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: s}}
}

func TestGetBadgeSelectors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		sel     *adjoinv1.EntitySelector
		want    string // entity key
		wantErr codes.Code
	}{
		{"sid", sid(keyPgustavo), keyPgustavo, codes.OK},
		{"sid lower case", sid("s-1-5-21-3669966080-2286457517-972388166-1104"), keyPgustavo, codes.OK},
		{"entity key", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: keyWorkstation}}, keyWorkstation, codes.OK},
		{"upn any case", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: "PGustavo@TheShire.Local"}}, keyPgustavo, codes.OK},
		{"domain sam", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: `theshire\pgustavo`}}, keyPgustavo, codes.OK},
		{"dns host name", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DnsHostName{DnsHostName: "workstation6.theshire.local"}}, keyWorkstation, codes.OK},
		{"netbios name", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_NetbiosName{NetbiosName: "MORDORDC"}}, keyMordorDC, codes.OK},
		{"query bare sam", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: "pgustavo"}}, keyPgustavo, codes.OK},
		{"query bare host", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: "workstation6"}}, keyWorkstation, codes.OK},
		{"query fqdn", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: "MORDORDC.theshire.local"}}, keyMordorDC, codes.OK},
		{"query sid", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: keyWorkstation}}, keyWorkstation, codes.OK},

		{"no selector", nil, "", codes.InvalidArgument},
		{"empty selector message", &adjoinv1.EntitySelector{}, "", codes.InvalidArgument},
		{"malformed sid", sid("S-x"), "", codes.InvalidArgument},
		{"upn without @", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: "pgustavo"}}, "", codes.InvalidArgument},
		{"domain sam without domain", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: "pgustavo"}}, "", codes.InvalidArgument},
		{"bad object guid", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_ObjectGuid{ObjectGuid: "not-a-guid"}}, "", codes.InvalidArgument},
		{"host name without domain", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DnsHostName{DnsHostName: "WORKSTATION6"}}, "", codes.InvalidArgument},
		{"netbios with dots", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_NetbiosName{NetbiosName: "a.b"}}, "", codes.InvalidArgument},
		{"blank entity key", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: " "}}, "", codes.InvalidArgument},
		{"blank query", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: "  "}}, "", codes.InvalidArgument},

		{"unknown sid", sid("S-1-5-21-3669966080-2286457517-972388166-4242"), "", codes.NotFound},
		{"unknown upn", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: "frodo@theshire.local"}}, "", codes.NotFound},
		{"unknown key", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: "nobody"}}, "", codes.NotFound},
		{"unknown guid", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_ObjectGuid{ObjectGuid: "{3933C65D-AC7F-4C79-B5B7-AD0FB941333C}"}}, "", codes.NotFound},
		{"unknown query", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: "gollum"}}, "", codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := f.get(t, tt.sel)
			if got := status.Code(err); got != tt.wantErr {
				t.Fatalf("code %s (%v), want %s", got, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if b.GetEntity().GetKey() != tt.want {
				t.Errorf("entity %q, want %q", b.GetEntity().GetKey(), tt.want)
			}
		})
	}
}

func side(s adjoinv1.Side, known bool, reason adjoinv1.GreyedReason) *adjoinv1.SideBadge {
	return &adjoinv1.SideBadge{Side: s, Known: known, GreyedReason: reason}
}

func identity(known bool, reason adjoinv1.GreyedReason) *adjoinv1.SideBadge {
	return side(adjoinv1.Side_SIDE_IDENTITY, known, reason)
}

func endpoint(known bool, reason adjoinv1.GreyedReason) *adjoinv1.SideBadge {
	return side(adjoinv1.Side_SIDE_ENDPOINT, known, reason)
}

const (
	none         = adjoinv1.GreyedReason_GREYED_REASON_NONE
	neverSeen    = adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN
	notOnboarded = adjoinv1.GreyedReason_GREYED_REASON_NOT_ONBOARDED
	off          = adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF
)

// TestGetBadgeKnowledge covers what makes the endpoint side know an entity: a device record
// under the entity key or under a name key recorded before the directory knew the entity, and
// its onboarding status.
func TestGetBadgeKnowledge(t *testing.T) {
	device := func(status string) *adjoinv1.DeviceRecord {
		return &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: "WORKSTATION6.theshire.local", OnboardingStatus: status}
	}
	tests := []struct {
		name         string
		devices      map[string]*adjoinv1.DeviceRecord
		sel          *adjoinv1.EntitySelector
		wantEndpoint *adjoinv1.SideBadge
	}{
		{"user nobody has seen", nil, sid(keyPgustavo), endpoint(false, neverSeen)},
		{"computer nobody has seen", nil, sid(keyWorkstation), endpoint(false, neverSeen)},
		{"device under the entity key", map[string]*adjoinv1.DeviceRecord{keyWorkstation: device("onboarded")}, sid(keyWorkstation), endpoint(true, none)},
		{"device only under its fqdn key", map[string]*adjoinv1.DeviceRecord{entity.HostNameKey("WORKSTATION6.theshire.local"): device("implicit")}, sid(keyWorkstation), endpoint(true, none)},
		{"device only under its netbios key", map[string]*adjoinv1.DeviceRecord{entity.HostNameKey("WORKSTATION6"): device("implicit")}, sid(keyWorkstation), endpoint(true, none)},
		{"another device's record", map[string]*adjoinv1.DeviceRecord{entity.HostNameKey("WORKSTATION5.theshire.local"): device("implicit")}, sid(keyWorkstation), endpoint(false, neverSeen)},
		{"insufficient info", map[string]*adjoinv1.DeviceRecord{keyWorkstation: device("insufficient_info")}, sid(keyWorkstation), endpoint(false, notOnboarded)},
		{"unsupported", map[string]*adjoinv1.DeviceRecord{entity.HostNameKey("WORKSTATION6.theshire.local"): device("unsupported")}, sid(keyWorkstation), endpoint(false, notOnboarded)},
		{"can be onboarded", map[string]*adjoinv1.DeviceRecord{keyWorkstation: device("can_be_onboarded")}, sid(keyWorkstation), endpoint(false, notOnboarded)},
		{"user seen on a host under its account key", map[string]*adjoinv1.DeviceRecord{entity.UserNameKey("THESHIRE", "pgustavo"): {Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Account: `THESHIRE\pgustavo`, OnboardingStatus: "implicit"}}, sid(keyPgustavo), endpoint(true, none)},
		{"user seen under the dns domain", map[string]*adjoinv1.DeviceRecord{entity.UserNameKey("theshire.local", "pgustavo"): {Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, OnboardingStatus: "implicit"}}, sid(keyPgustavo), endpoint(true, none)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for key, rec := range tt.devices {
				f.put(t, f.devices, key, rec)
			}
			b, err := f.get(t, tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			want := &adjoinv1.Badge{IntegrationEnabled: true, Identity: identity(true, none), Endpoint: tt.wantEndpoint}
			if !proto.Equal(b.GetIdentity(), want.Identity) || !proto.Equal(b.GetEndpoint(), want.Endpoint) || !b.GetIntegrationEnabled() {
				t.Errorf("badge\n%s\nwant\n%s", prototext.Format(stripEntity(b)), prototext.Format(want))
			}
		})
	}
}

func stripEntity(b *adjoinv1.Badge) *adjoinv1.Badge {
	b = proto.Clone(b).(*adjoinv1.Badge)
	b.Entity = nil
	return b
}

// TestGetBadgeCounts stores a mix of alerts of both sides on pgustavo and checks each side's
// summary.
func TestGetBadgeCounts(t *testing.T) {
	f := newFixture(t)
	day := time.Date(2020, 8, 5, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) *timestamppb.Timestamp {
		return timestamppb.New(day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	}
	ec := &adjoinv1.EntityCounts{EntityKey: keyPgustavo}
	for _, a := range []*adjoinv1.Alert{
		{Id: "id-high-new", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1, FirstActivity: at(6, 10), LastActivity: at(6, 11)},
		{Id: "id-low-resolved", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_LOW, Status: adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, Version: 3, FirstActivity: at(2, 0), LastActivity: at(2, 30)},
		{Id: "id-high-progress", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS, Version: 2, FirstActivity: at(7, 0), LastActivity: at(9, 45)},
		{Id: "id-medium-untriaged", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Version: 1},
		{Id: "ep-medium-new", Side: adjoinv1.Side_SIDE_ENDPOINT, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1, FirstActivity: at(6, 12), LastActivity: at(6, 13)},
		{Id: "ep-info-resolved", Side: adjoinv1.Side_SIDE_ENDPOINT, Severity: adjoinv1.Severity_SEVERITY_INFORMATIONAL, Status: adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, Version: 1, FirstActivity: at(5, 0), LastActivity: at(5, 1)},
	} {
		counts.Apply(ec, a)
	}
	f.put(t, f.badges, keyPgustavo, ec)
	f.put(t, f.devices, entity.UserNameKey("THESHIRE", "pgustavo"), &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, OnboardingStatus: "implicit"})

	b, err := f.get(t, &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: "pgustavo@theshire.local"}})
	if err != nil {
		t.Fatal(err)
	}
	sev := func(s adjoinv1.Severity, n int64) *adjoinv1.SeverityCount {
		return &adjoinv1.SeverityCount{Severity: s, Count: n}
	}
	want := &adjoinv1.Badge{
		IntegrationEnabled: true,
		Identity: &adjoinv1.SideBadge{
			Side: adjoinv1.Side_SIDE_IDENTITY, Known: true, GreyedReason: none, Total: 4, Open: 3,
			BySeverity: []*adjoinv1.SeverityCount{
				sev(adjoinv1.Severity_SEVERITY_HIGH, 2), sev(adjoinv1.Severity_SEVERITY_MEDIUM, 1), sev(adjoinv1.Severity_SEVERITY_LOW, 1),
			},
			HighestSeverity: adjoinv1.Severity_SEVERITY_HIGH, FirstAlertTime: at(2, 0), LastAlertTime: at(9, 45),
		},
		Endpoint: &adjoinv1.SideBadge{
			Side: adjoinv1.Side_SIDE_ENDPOINT, Known: true, GreyedReason: none, Total: 2, Open: 1,
			BySeverity: []*adjoinv1.SeverityCount{
				sev(adjoinv1.Severity_SEVERITY_MEDIUM, 1), sev(adjoinv1.Severity_SEVERITY_INFORMATIONAL, 1),
			},
			HighestSeverity: adjoinv1.Severity_SEVERITY_MEDIUM, FirstAlertTime: at(5, 0), LastAlertTime: at(6, 13),
		},
	}
	if got := stripEntity(b); !proto.Equal(got, want) {
		t.Errorf("badge\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
	}
	if b.GetEntity().GetKey() != keyPgustavo || b.GetEntity().GetDisplayName() != "Gustavo Pedro" {
		t.Errorf("entity %v", b.GetEntity())
	}

	t.Run("another entity's counts do not leak", func(t *testing.T) {
		b, err := f.get(t, sid(keyMordorDC))
		if err != nil {
			t.Fatal(err)
		}
		if b.GetIdentity().GetTotal() != 0 || b.GetEndpoint().GetTotal() != 0 {
			t.Errorf("MORDORDC badge counts %d/%d, want 0/0", b.GetIdentity().GetTotal(), b.GetEndpoint().GetTotal())
		}
	})
}

// TestGetBadgeEndpointAlertsWithoutDeviceRecord: an endpoint alert on an entity is the endpoint
// side seeing it, even when no device record was written (a product alert about a host that
// sends no other signal), so the endpoint badge must not claim it never saw the entity.
func TestGetBadgeEndpointAlertsWithoutDeviceRecord(t *testing.T) {
	f := newFixture(t)
	ec := &adjoinv1.EntityCounts{EntityKey: keyWorkstation}
	counts.Apply(ec, &adjoinv1.Alert{Id: "edr-1", Side: adjoinv1.Side_SIDE_ENDPOINT, Severity: adjoinv1.Severity_SEVERITY_HIGH, Version: 1})
	f.put(t, f.badges, keyWorkstation, ec)
	b, err := f.get(t, sid(keyWorkstation))
	if err != nil {
		t.Fatal(err)
	}
	if ep := b.GetEndpoint(); ep.GetTotal() != 1 || !ep.GetKnown() || ep.GetGreyedReason() != none {
		t.Errorf("endpoint badge %v, want known with 1 alert", prototext.Format(ep))
	}

	t.Run("identity alerts alone do not make the endpoint side know it", func(t *testing.T) {
		ec := &adjoinv1.EntityCounts{EntityKey: keyMordorDC}
		counts.Apply(ec, &adjoinv1.Alert{Id: "dc-1", Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1})
		f.put(t, f.badges, keyMordorDC, ec)
		b, err := f.get(t, sid(keyMordorDC))
		if err != nil {
			t.Fatal(err)
		}
		if ep := b.GetEndpoint(); ep.GetKnown() || ep.GetGreyedReason() != neverSeen {
			t.Errorf("endpoint badge %v, want greyed NEVER_SEEN", prototext.Format(ep))
		}
	})
}

// TestGetBadgeIntegrationToggle: the integration is on only while both sides' toggles are on.
func TestGetBadgeIntegrationToggle(t *testing.T) {
	f := newFixture(t)
	f.put(t, f.devices, keyWorkstation, &adjoinv1.DeviceRecord{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, OnboardingStatus: "onboarded"})
	ec := &adjoinv1.EntityCounts{EntityKey: keyWorkstation}
	counts.Apply(ec, &adjoinv1.Alert{Id: "dc-1", Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH, Version: 1})
	f.put(t, f.badges, keyWorkstation, ec)

	steps := []struct {
		name        string
		side        adjoinv1.Side
		value       string
		wantEnabled bool
		want        [2]*adjoinv1.SideBadge
	}{
		{"no toggles stored means on", adjoinv1.Side_SIDE_UNSPECIFIED, "", true, [2]*adjoinv1.SideBadge{identity(true, none), endpoint(true, none)}},
		{"endpoint off", adjoinv1.Side_SIDE_ENDPOINT, "off", false, [2]*adjoinv1.SideBadge{identity(false, off), endpoint(false, off)}},
		{"endpoint back on", adjoinv1.Side_SIDE_ENDPOINT, "on", true, [2]*adjoinv1.SideBadge{identity(true, none), endpoint(true, none)}},
		{"identity off with spaces", adjoinv1.Side_SIDE_IDENTITY, " off\n", false, [2]*adjoinv1.SideBadge{identity(false, off), endpoint(false, off)}},
		{"both off", adjoinv1.Side_SIDE_ENDPOINT, "off", false, [2]*adjoinv1.SideBadge{identity(false, off), endpoint(false, off)}},
		{"identity on, endpoint still off", adjoinv1.Side_SIDE_IDENTITY, "on", false, [2]*adjoinv1.SideBadge{identity(false, off), endpoint(false, off)}},
		{"both on", adjoinv1.Side_SIDE_ENDPOINT, "on", true, [2]*adjoinv1.SideBadge{identity(true, none), endpoint(true, none)}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.side != adjoinv1.Side_SIDE_UNSPECIFIED {
				f.toggle(t, st.side, st.value)
			}
			b, err := f.get(t, sid(keyWorkstation))
			if err != nil {
				t.Fatal(err)
			}
			if b.GetIntegrationEnabled() != st.wantEnabled {
				t.Errorf("integration_enabled = %v, want %v", b.GetIntegrationEnabled(), st.wantEnabled)
			}
			for i, got := range []*adjoinv1.SideBadge{b.GetIdentity(), b.GetEndpoint()} {
				if got.GetKnown() != st.want[i].GetKnown() || got.GetGreyedReason() != st.want[i].GetGreyedReason() {
					t.Errorf("%s: known %v reason %s, want %v %s", got.GetSide(), got.GetKnown(), got.GetGreyedReason(), st.want[i].GetKnown(), st.want[i].GetGreyedReason())
				}
			}
			// Counts are still reported while greyed.
			if b.GetIdentity().GetTotal() != 1 {
				t.Errorf("identity total %d, want 1", b.GetIdentity().GetTotal())
			}
		})
	}
}

// TestGetBadgeStoreErrors: a record that cannot be decoded is the store failing, which must
// not be reported as the caller's fault, as a missing entity, or as an outage a retry fixes.
func TestGetBadgeStoreErrors(t *testing.T) {
	tests := []struct {
		name    string
		bucket  func(*fixture) jetstream.KeyValue
		key     string
		wantErr codes.Code
	}{
		{"undecodable counts", func(f *fixture) jetstream.KeyValue { return f.badges }, keyWorkstation, codes.DataLoss},
		{"undecodable device", func(f *fixture) jetstream.KeyValue { return f.devices }, keyWorkstation, codes.DataLoss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := tt.bucket(f).Put(context.Background(), tt.key, []byte("\xff\xff not protobuf")); err != nil {
				t.Fatal(err)
			}
			_, err := f.get(t, sid(keyWorkstation))
			if got := status.Code(err); got != tt.wantErr {
				t.Errorf("code %s (%v), want %s", got, err, tt.wantErr)
			}
		})
	}
}
