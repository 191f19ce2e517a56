package app_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/correlator/internal/adapters"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
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
	out    jetstream.Stream // CORRELATED
	counts jetstream.Stream // COUNTS
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := natstest.Start(t)
	badges := s.KV(t, natsx.BucketBadges)
	out, err := s.JS.Stream(context.Background(), natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.JS.Stream(context.Background(), natsx.StreamCounts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 8, 5, 6, 15, 0, 0, time.UTC)
	return &fixture{
		c: &app.Correlator{
			Index: shireIndex(), Out: adapters.Correlated{JS: s.JS}, Partitions: partitions,
			Now: func() time.Time { return now },
		},
		badges: badges, out: out, counts: cs,
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

// partitions is the fixture's number of COUNTS partitions.
const partitions = 8

// countsSubject is the COUNTS subject of an entity in the fixture.
func countsSubject(computer bool, key string) string {
	return natsx.CountsSubject(natsx.Partition(key, partitions), computer, key)
}

// last returns the last message on subject, of CORRELATED or COUNTS.
func (f *fixture) last(t *testing.T, subject string) *adjoinv1.CorrelatedAlert {
	t.Helper()
	stream := f.out
	if strings.HasPrefix(subject, natsx.SubjectCounts+".") {
		stream = f.counts
	}
	m, err := stream.GetLastMsgForSubject(context.Background(), subject)
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

// perSubject counts the CORRELATED and COUNTS messages on each subject.
func (f *fixture) perSubject(t *testing.T) map[string]uint64 {
	t.Helper()
	got := map[string]uint64{}
	for _, st := range []jetstream.Stream{f.out, f.counts} {
		info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(got, info.State.Subjects)
	}
	return got
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

	userSubj, hostSubj := countsSubject(false, keyPgustavo), countsSubject(true, keyWorkstation)
	for _, tt := range []struct {
		subject, key string
	}{{userSubj, keyPgustavo}, {hostSubj, keyWorkstation}} {
		ca := f.last(t, tt.subject)
		if ca.GetEntityKey() != tt.key || ca.GetAlert().GetId() != a.GetId() || ca.GetReason() != "" ||
			ca.GetIncidentId() != "" || len(ca.GetOtherSideAlertIds()) != 0 || !ca.GetCorrelatedTime().IsValid() {
			t.Errorf("%s: entity %q alert %q reason %q incident %q other side %q", tt.subject, ca.GetEntityKey(),
				ca.GetAlert().GetId(), ca.GetReason(), ca.GetIncidentId(), ca.GetOtherSideAlertIds())
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
	// Stage 1 counts nothing and publishes no correlated copy: the partition owner does.
	if keys := f.badgeKeys(t); len(keys) != 0 {
		t.Errorf("badges written by stage 1: %v", keys)
	}
	if got := f.perSubject(t); len(got) != 2 {
		t.Errorf("messages per subject %v, want only the two COUNTS subjects", got)
	}

	t.Run("handled twice", func(t *testing.T) {
		if _, err := f.c.Handle(ctx, a); err != nil {
			t.Fatal(err)
		}
		got := f.perSubject(t)
		if got[userSubj] != 1 || got[hostSubj] != 1 || len(got) != 2 {
			t.Errorf("messages per subject %v, want one on each of %s and %s", got, userSubj, hostSubj)
		}
	})

	t.Run("update to resolved", func(t *testing.T) {
		if _, err := f.c.Handle(ctx, dcsync(2, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED)); err != nil {
			t.Fatal(err)
		}
		got := f.perSubject(t)
		if got[userSubj] != 2 || got[hostSubj] != 2 {
			t.Errorf("messages per subject %v, want a second (version 2) message on each", got)
		}
		if v := f.last(t, userSubj).GetAlert().GetVersion(); v != 2 {
			t.Errorf("last user message carries version %d, want 2", v)
		}
		// Replaying version 1 afterwards publishes nothing new (its id is the first one's).
		if _, err := f.c.Handle(ctx, dcsync(1, adjoinv1.AlertStatus_ALERT_STATUS_NEW)); err != nil {
			t.Fatal(err)
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
		name     string
		ref      *adjoinv1.EntityRef
		wantKey  string
		wantBy   adjoinv1.MatchKey
		computer bool
	}{
		{"sid", &adjoinv1.EntityRef{Sid: "s-1-5-21-3669966080-2286457517-972388166-1104"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_SID, false},
		{"netbios domain and sam", &adjoinv1.EntityRef{SamAccountName: `THESHIRE\PGustavo`}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, false},
		{"sam with separate dns domain", &adjoinv1.EntityRef{SamAccountName: "pgustavo", Domain: "theshire.local"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, false},
		{"upn", &adjoinv1.EntityRef{Upn: "PGUSTAVO@THESHIRE.LOCAL"}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_UPN, false},
		{"unknown sid falls back to the account", &adjoinv1.EntityRef{Sid: "S-1-5-21-1-2-3-4444", SamAccountName: `THESHIRE\pgustavo`}, keyPgustavo, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, false},
		{"fqdn with trailing dot", &adjoinv1.EntityRef{DnsHostName: "MORDORDC.theshire.local."}, keyMordorDC, adjoinv1.MatchKey_MATCH_KEY_DNS_HOST_NAME, true},
		{"netbios name", &adjoinv1.EntityRef{NetbiosName: "mordordc"}, keyMordorDC, adjoinv1.MatchKey_MATCH_KEY_NETBIOS_NAME, true},
		{"machine account", &adjoinv1.EntityRef{SamAccountName: `THESHIRE\WORKSTATION6$`}, keyWorkstation, adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, true},
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
			subject := countsSubject(tt.computer, tt.wantKey)
			ca := f.last(t, subject)
			if ca.GetAlert().GetId() != a.GetId() {
				t.Fatalf("last message on %s is alert %q", subject, ca.GetAlert().GetId())
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

type recordingPublisher struct {
	fail     func(app.Publication) error
	subjects []string
}

func (p *recordingPublisher) Publish(_ context.Context, pubs []app.Publication) error {
	for _, pub := range pubs {
		if p.fail != nil {
			if err := p.fail(pub); err != nil {
				return err
			}
		}
	}
	for _, pub := range pubs {
		p.subjects = append(p.subjects, pub.Subject)
	}
	return nil
}

// TestHandleFailures checks that a failed publish is returned, so the caller leaves the alert
// unacknowledged.
func TestHandleFailures(t *testing.T) {
	errPublish := errors.New("stream down")
	always := func(app.Publication) error { return errPublish }
	tests := []struct {
		name         string
		fail         func(app.Publication) error
		alert        *adjoinv1.Alert
		wantErr      error
		wantSubjects int
	}{
		{"publish fails", always, dcsync(1, 0), errPublish, 0},
		{"unresolved publish fails", always, &adjoinv1.Alert{Id: "x", Entities: []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-5"}}}, errPublish, 0},
		{"success", nil, dcsync(1, 0), nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recordingPublisher{fail: tt.fail}
			c := &app.Correlator{Index: shireIndex(), Out: pub}
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

// TestHandleBatchIsolatesFailures: when a batch's publishes fail together, each alert's are
// published alone, so only the alert that cannot be stored fails.
func TestHandleBatchIsolatesFailures(t *testing.T) {
	errPoison := errors.New("too large")
	pub := &recordingPublisher{fail: func(p app.Publication) error {
		if p.Msg.GetAlert().GetId() == "poison" {
			return errPoison
		}
		return nil
	}}
	c := &app.Correlator{Index: shireIndex(), Out: pub}
	poison := dcsync(1, 0)
	poison.Id = "poison"
	alerts := []*adjoinv1.Alert{dcsync(1, 0), poison, {Id: "x", Entities: []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-5"}}}}
	outs, errs := c.HandleBatch(context.Background(), alerts)
	if errs[0] != nil || !errors.Is(errs[1], errPoison) || errs[2] != nil {
		t.Fatalf("errors %v, want only the poison alert's", errs)
	}
	if len(outs[0].Entities) != 2 || !outs[2].Unresolved {
		t.Errorf("outcomes %+v", outs)
	}
	if len(pub.subjects) != 3 {
		t.Errorf("published on %v, want the 2 COUNTS subjects of the first alert and correlated.unresolved", pub.subjects)
	}
	// Every entity goes to the partition of its key, on the default number of partitions.
	for _, s := range pub.subjects[:2] {
		if !strings.HasPrefix(s, natsx.SubjectCounts+".") {
			t.Errorf("subject %s is not a COUNTS subject", s)
		}
	}
	if want := natsx.CountsSubject(natsx.Partition(keyPgustavo, natsx.DefaultPartitions), false, keyPgustavo); !slices.Contains(pub.subjects, want) {
		t.Errorf("published on %v, want %s", pub.subjects, want)
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
