package app_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Keys of the Shire lab (services/adjoin/demo/theshire.ldif). The export has no objectGUIDs,
// so every key is the SID.
const (
	keyPgustavo    = "S-1-5-21-3669966080-2286457517-972388166-1104"
	keyWorkstation = "S-1-5-21-3669966080-2286457517-972388166-1112"
	keyMordorDC    = "S-1-5-21-3669966080-2286457517-972388166-1000"
)

func shireIndex() *directory.Index {
	ix := directory.NewIndex()
	for _, e := range []*adjoinv1.Entity{
		{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo",
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: "pgustavo@theshire.local",
			DisplayName: "Gustavo Pedro", Privileged: true,
		},
		{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: keyWorkstation, SamAccountName: "WORKSTATION6$",
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: "WORKSTATION6.theshire.local",
		},
		{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: keyMordorDC, SamAccountName: "MORDORDC$",
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: "MORDORDC.theshire.local",
		},
	} {
		ix.Put(e)
	}
	return ix
}

type fixture struct {
	c      *app.Correlator
	badges jetstream.KeyValue
	out    jetstream.Stream
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := natstest.Start(t)
	badges := s.KV(t, natsx.BucketBadges)
	out, err := s.JS.Stream(context.Background(), natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 8, 5, 6, 15, 0, 0, time.UTC)
	return &fixture{
		c: &app.Correlator{
			Index: shireIndex(), Counter: adapters.BadgeKV{KV: badges}, Out: adapters.Correlated{JS: s.JS},
			Now: func() time.Time { return now },
		},
		badges: badges, out: out,
	}
}

// dcsync is the S1 recording's DCSync by pgustavo from WORKSTATION6, as the DC ingestor would
// report it: the user by SID and account, the host by FQDN.
func dcsync(version int64, status adjoinv1.AlertStatus) *adjoinv1.Alert {
	t0 := time.Date(2020, 8, 5, 6, 10, 2, 0, time.UTC)
	return &adjoinv1.Alert{
		Id: "dcsync-pgustavo-workstation6", Side: adjoinv1.Side_SIDE_IDENTITY, Source: "adjoin-dcingest",
		Title: "Suspected DCSync attack", Detector: "dcsync", Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Status: status, Version: version,
		FirstActivity: timestamppb.New(t0), LastActivity: timestamppb.New(t0.Add(19 * time.Second)),
		Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR, Sid: keyPgustavo, SamAccountName: "pgustavo", Domain: "THESHIRE"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, DnsHostName: "workstation6.THESHIRE.local"},
		},
	}
}

func (f *fixture) counts(t *testing.T, key string) (*adjoinv1.EntityCounts, uint64) {
	t.Helper()
	e, err := f.badges.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("counts of %s: %v", key, err)
	}
	ec := &adjoinv1.EntityCounts{}
	if err := natsx.Decode(nil, e.Value(), ec); err != nil {
		t.Fatal(err)
	}
	return ec, e.Revision()
}

// last returns the last correlated alert on subject.
func (f *fixture) last(t *testing.T, subject string) *adjoinv1.CorrelatedAlert {
	t.Helper()
	m, err := f.out.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		t.Fatalf("last message on %s: %v", subject, err)
	}
	if got := m.Header.Get(natsx.HeaderType); got != "adjoin.v1.CorrelatedAlert" {
		t.Errorf("%s: Adjoin-Type %q", subject, got)
	}
	if m.Header.Get(jetstream.MsgIDHeader) == "" {
		t.Errorf("%s: no Nats-Msg-Id", subject)
	}
	ca := &adjoinv1.CorrelatedAlert{}
	if err := natsx.Decode(m.Header, m.Data, ca); err != nil {
		t.Fatal(err)
	}
	return ca
}

// perSubject counts the CORRELATED messages on each subject.
func (f *fixture) perSubject(t *testing.T) map[string]uint64 {
	t.Helper()
	info, err := f.out.Info(context.Background(), jetstream.WithSubjectFilter("correlated.>"))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

func (f *fixture) badgeKeys(t *testing.T) []string {
	t.Helper()
	keys, err := f.badges.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range keys.Keys() {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestHandleJoinsUserAndHost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := dcsync(1, adjoinv1.AlertStatus_ALERT_STATUS_NEW)

	out, err := f.c.Handle(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{keyWorkstation, keyPgustavo} // sorted by key
	slices.Sort(want)
	if !slices.Equal(out.Entities, want) || out.Unresolved || out.Excluded != "" {
		t.Fatalf("outcome %+v, want entities %v", out, want)
	}

	userSubj, hostSubj := "correlated.user."+keyPgustavo, "correlated.computer."+keyWorkstation
	for _, tt := range []struct {
		subject, key string
	}{{userSubj, keyPgustavo}, {hostSubj, keyWorkstation}} {
		ca := f.last(t, tt.subject)
		if ca.GetEntityKey() != tt.key || ca.GetAlert().GetId() != a.GetId() || ca.GetReason() != "" {
			t.Errorf("%s: entity %q alert %q reason %q", tt.subject, ca.GetEntityKey(), ca.GetAlert().GetId(), ca.GetReason())
		}
		res := ca.GetResolutions()
		if len(res) != 2 {
			t.Fatalf("%s: %d resolutions, want 2", tt.subject, len(res))
		}
		if r := res[0]; r.GetRefIndex() != 0 || r.GetEntityKey() != keyPgustavo || r.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER ||
			r.GetMatchedBy() != adjoinv1.MatchKey_MATCH_KEY_SID || r.GetCertainty() != 1 {
			t.Errorf("%s: user resolution %v", tt.subject, r)
		}
		if r := res[1]; r.GetRefIndex() != 1 || r.GetEntityKey() != keyWorkstation || r.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_COMPUTER ||
			r.GetMatchedBy() != adjoinv1.MatchKey_MATCH_KEY_DNS_HOST_NAME || r.GetMatchedValue() != "workstation6.theshire.local" {
			t.Errorf("%s: host resolution %v", tt.subject, r)
		}
	}
	userCounts, userRev := f.counts(t, keyPgustavo)
	hostCounts, hostRev := f.counts(t, keyWorkstation)
	for _, ec := range []*adjoinv1.EntityCounts{userCounts, hostCounts} {
		sum := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY)
		if sum.GetTotal() != 1 || sum.GetOpen() != 1 || sum.GetHighestSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
			t.Errorf("%s: identity %v", ec.GetEntityKey(), sum)
		}
	}

	t.Run("handled twice", func(t *testing.T) {
		if _, err := f.c.Handle(ctx, a); err != nil {
			t.Fatal(err)
		}
		got := f.perSubject(t)
		if got[userSubj] != 1 || got[hostSubj] != 1 || len(got) != 2 {
			t.Errorf("messages per subject %v, want one on each of %s and %s", got, userSubj, hostSubj)
		}
		if _, rev := f.counts(t, keyPgustavo); rev != userRev {
			t.Errorf("user counts rewritten: revision %d → %d", userRev, rev)
		}
		if _, rev := f.counts(t, keyWorkstation); rev != hostRev {
			t.Errorf("host counts rewritten: revision %d → %d", hostRev, rev)
		}
	})

	t.Run("update to resolved", func(t *testing.T) {
		if _, err := f.c.Handle(ctx, dcsync(2, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED)); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{keyPgustavo, keyWorkstation} {
			ec, _ := f.counts(t, key)
			sum := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY)
			if sum.GetTotal() != 1 || sum.GetOpen() != 0 {
				t.Errorf("%s: total/open = %d/%d, want 1/0", key, sum.GetTotal(), sum.GetOpen())
			}
		}
		got := f.perSubject(t)
		if got[userSubj] != 2 || got[hostSubj] != 2 {
			t.Errorf("messages per subject %v, want a second (version 2) message on each", got)
		}
		if v := f.last(t, userSubj).GetAlert().GetVersion(); v != 2 {
			t.Errorf("last user message carries version %d, want 2", v)
		}
		// Replaying version 1 afterwards changes nothing and publishes nothing new.
		if _, err := f.c.Handle(ctx, dcsync(1, adjoinv1.AlertStatus_ALERT_STATUS_NEW)); err != nil {
			t.Fatal(err)
		}
		ec, _ := f.counts(t, keyPgustavo)
		if sum := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY); sum.GetOpen() != 0 {
			t.Errorf("stale version 1 reopened the alert: open %d", sum.GetOpen())
		}
		if got := f.perSubject(t); got[userSubj] != 2 {
			t.Errorf("replayed version 1 published again: %v", got)
		}
	})
}

// TestHandleResolvesEveryNameForm checks that each form a sensor may name an entity by reaches
// the same directory entity, and that the correlated alert says which key matched.
func TestHandleResolvesEveryNameForm(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		ref     *adjoinv1.EntityRef
		wantKey string
		wantBy  adjoinv1.MatchKey
		subject string
	}{
		{"sid", &adjoinv1.EntityRef{Sid: "s-1-5-21-3669966080-2286457517-972388166-1104"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_SID, "correlated.user."},
		{"netbios domain and sam", &adjoinv1.EntityRef{SamAccountName: `THESHIRE\PGustavo`}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, "correlated.user."},
		{"sam with separate dns domain", &adjoinv1.EntityRef{SamAccountName: "pgustavo", Domain: "theshire.local"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, "correlated.user."},
		{"upn", &adjoinv1.EntityRef{Upn: "PGUSTAVO@THESHIRE.LOCAL"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_UPN, "correlated.user."},
		{"unknown sid falls back to the account", &adjoinv1.EntityRef{Sid: "S-1-5-21-1-2-3-4444", SamAccountName: `THESHIRE\pgustavo`}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, "correlated.user."},
		{"fqdn with trailing dot", &adjoinv1.EntityRef{DnsHostName: "MORDORDC.theshire.local."}, keyMordorDC, adjoinv1.MatchKey_MATCH_KEY_DNS_HOST_NAME, "correlated.computer."},
		{"netbios name", &adjoinv1.EntityRef{NetbiosName: "mordordc"}, keyMordorDC, adjoinv1.MatchKey_MATCH_KEY_NETBIOS_NAME, "correlated.computer."},
		{"machine account", &adjoinv1.EntityRef{SamAccountName: `THESHIRE\WORKSTATION6$`}, keyWorkstation, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, "correlated.computer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &adjoinv1.Alert{Id: "form-" + tt.name, Side: adjoinv1.Side_SIDE_ENDPOINT, Version: 1, Entities: []*adjoinv1.EntityRef{tt.ref}}
			out, err := f.c.Handle(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Entities, []string{tt.wantKey}) {
				t.Fatalf("entities %v, want [%s]", out.Entities, tt.wantKey)
			}
			ca := f.last(t, tt.subject+tt.wantKey)
			if ca.GetAlert().GetId() != a.GetId() {
				t.Fatalf("last message on %s is alert %q", tt.subject+tt.wantKey, ca.GetAlert().GetId())
			}
			if r := ca.GetResolutions()[0]; r.GetMatchedBy() != tt.wantBy || r.GetEntityKey() != tt.wantKey {
				t.Errorf("resolution %v, want %s by %s", r, tt.wantKey, tt.wantBy)
			}
		})
	}
}

func TestHandleUnresolvedAndExcluded(t *testing.T) {
	tests := []struct {
		name           string
		refs           []*adjoinv1.EntityRef
		wantSubject    string
		wantUnresolved bool
		wantExcluded   bool
		wantTried      []string // of the first resolution
	}{
		{
			name:           "names nobody in the directory",
			refs:           []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-9999", SamAccountName: "frodo", Domain: "THESHIRE"}},
			wantSubject:    natsx.SubjectUnresolved,
			wantUnresolved: true,
			wantTried:      []string{"sid:S-1-5-21-1-2-3-9999", `sam:theshire\frodo`},
		},
		{
			name:           "unknown host by fqdn and ip",
			refs:           []*adjoinv1.EntityRef{{DnsHostName: "WORKSTATION9.theshire.local", Ip: "172.18.39.9"}},
			wantSubject:    natsx.SubjectUnresolved,
			wantUnresolved: true,
			wantTried:      []string{"fqdn:workstation9.theshire.local", "netbios:workstation9", "ip:172.18.39.9"},
		},
		{
			name:           "no references at all",
			wantSubject:    natsx.SubjectUnresolved,
			wantUnresolved: true,
		},
		{
			name:         "cloud-only user",
			refs:         []*adjoinv1.EntityRef{{AadObjectId: "8f1f0b0e-3c5a-4d3e-9d9c-0a1b2c3d4e5f", Upn: "frodo@theshire.onmicrosoft.com"}},
			wantSubject:  natsx.SubjectExcluded,
			wantExcluded: true,
			wantTried:    []string{"upn:frodo@theshire.onmicrosoft.com", "sam:theshire.onmicrosoft.com\\frodo"},
		},
		{
			name:         "cloud vm",
			refs:         []*adjoinv1.EntityRef{{CloudVmId: "vm-42", AadDeviceId: "d1"}},
			wantSubject:  natsx.SubjectExcluded,
			wantExcluded: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := &adjoinv1.Alert{Id: "alert-" + tt.name, Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1, Entities: tt.refs}
			out, err := f.c.Handle(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if out.Unresolved != tt.wantUnresolved || (out.Excluded != "") != tt.wantExcluded || len(out.Entities) != 0 {
				t.Errorf("outcome %+v", out)
			}
			ca := f.last(t, tt.wantSubject)
			if ca.GetAlert().GetId() != a.GetId() || ca.GetEntityKey() != "" || ca.GetReason() == "" {
				t.Errorf("%s: alert %q entity %q reason %q", tt.wantSubject, ca.GetAlert().GetId(), ca.GetEntityKey(), ca.GetReason())
			}
			if tt.wantExcluded && ca.GetReason() != out.Excluded {
				t.Errorf("published reason %q, outcome reason %q", ca.GetReason(), out.Excluded)
			}
			if len(ca.GetResolutions()) != len(tt.refs) {
				t.Fatalf("%d resolutions for %d refs", len(ca.GetResolutions()), len(tt.refs))
			}
			if len(tt.refs) > 0 && !slices.Equal(ca.GetResolutions()[0].GetTried(), tt.wantTried) {
				t.Errorf("tried %q, want %q", ca.GetResolutions()[0].GetTried(), tt.wantTried)
			}
			if keys := f.badgeKeys(t); len(keys) != 0 {
				t.Errorf("badges written for an alert with no entity: %v", keys)
			}
			// Handling it again publishes nothing new.
			if _, err := f.c.Handle(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if got := f.perSubject(t); got[tt.wantSubject] != 1 || len(got) != 1 {
				t.Errorf("messages per subject %v, want one on %s", got, tt.wantSubject)
			}
		})
	}
}

type failingCounter struct{ err error }

func (c failingCounter) Apply(context.Context, string, *adjoinv1.Alert, []string) (*adjoinv1.EntityCounts, bool, error) {
	return nil, false, c.err
}

type recordingPublisher struct {
	err      error
	subjects []string
}

func (p *recordingPublisher) PublishCorrelated(_ context.Context, subject, _ string, _ *adjoinv1.CorrelatedAlert) error {
	if p.err != nil {
		return p.err
	}
	p.subjects = append(p.subjects, subject)
	return nil
}

type okCounter struct{}

func (okCounter) Apply(context.Context, string, *adjoinv1.Alert, []string) (*adjoinv1.EntityCounts, bool, error) {
	return &adjoinv1.EntityCounts{}, true, nil
}

// TestHandleFailures checks that a failed count or publish is returned, so the caller leaves the
// alert unacknowledged, and that nothing is published for an entity whose count failed.
func TestHandleFailures(t *testing.T) {
	errCount, errPublish := errors.New("kv down"), errors.New("stream down")
	tests := []struct {
		name         string
		counter      app.Counter
		pubErr       error
		alert        *adjoinv1.Alert
		wantErr      error
		wantSubjects int
	}{
		{"count fails", failingCounter{errCount}, nil, dcsync(1, 0), errCount, 0},
		{"publish fails", okCounter{}, errPublish, dcsync(1, 0), errPublish, 0},
		{"unresolved publish fails", okCounter{}, errPublish, &adjoinv1.Alert{Id: "x", Entities: []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-5"}}}, errPublish, 0},
		{"success", okCounter{}, nil, dcsync(1, 0), nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recordingPublisher{err: tt.pubErr}
			c := &app.Correlator{Index: shireIndex(), Counter: tt.counter, Out: pub}
			_, err := c.Handle(context.Background(), tt.alert)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if len(pub.subjects) != tt.wantSubjects {
				t.Errorf("published on %v, want %d subjects", pub.subjects, tt.wantSubjects)
			}
		})
	}
}

func TestEntitySubject(t *testing.T) {
	tests := []struct {
		kind adjoinv1.EntityKind
		want string
	}{
		{adjoinv1.EntityKind_ENTITY_KIND_USER, "correlated.user." + keyPgustavo},
		{adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, "correlated.computer." + keyPgustavo},
		{adjoinv1.EntityKind_ENTITY_KIND_UNSPECIFIED, "correlated.user." + keyPgustavo},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			if got := app.EntitySubject(tt.kind, keyPgustavo); got != tt.want {
				t.Errorf("EntitySubject = %q, want %q", got, tt.want)
			}
		})
	}
}
