package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// Shire lab keys (services/adjoin/demo/theshire.ldif): no objectGUIDs there, so SIDs.
const (
	shireSID    = "S-1-5-21-3669966080-2286457517-972388166"
	keyPgustavo = shireSID + "-1104"
	keySbeavers = shireSID + "-1106"
	keyWardog   = shireSID + "-500"
	keyMordorDC = shireSID + "-1000"
	keyWS6      = shireSID + "-1112"
	keyWS5      = shireSID + "-1113"
)

func shireDirectory() *directory.Index {
	ix := directory.NewIndex()
	user := func(rid, sam, dn string) {
		ix.Put(&adjoinv1.Entity{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: shireSID + "-" + rid, SamAccountName: sam,
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", Upn: sam + "@theshire.local", DistinguishedName: dn,
		})
	}
	computer := func(rid, name, ou string) {
		ix.Put(&adjoinv1.Entity{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: shireSID + "-" + rid, SamAccountName: name + "$",
			NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DnsHostName: name + ".theshire.local",
			DistinguishedName: "CN=" + name + "," + ou + ",DC=theshire,DC=local",
		})
	}
	user("1104", "pgustavo", "CN=Gustavo Pedro,OU=DomainUsers,DC=theshire,DC=local")
	user("1106", "sbeavers", "CN=Beavers Stevie,OU=DomainUsers,DC=theshire,DC=local")
	user("500", "wardog", "CN=wardog,CN=Users,DC=theshire,DC=local")
	computer("1000", "MORDORDC", "OU=Domain Controllers")
	computer("1113", "WORKSTATION5", "OU=Workstations")
	computer("1112", "WORKSTATION6", "OU=Workstations")
	return ix
}

// fakeSource resolves names with a real directory index, and holds the counted alerts in a
// window.
type fakeSource struct {
	ix     *directory.Index
	window *domain.AlertWindow
}

func newFakeSource() *fakeSource {
	return &fakeSource{ix: shireDirectory(), window: domain.NewAlertWindow(0)}
}

func (s *fakeSource) Entity(key string) (*adjoinv1.Entity, bool) { return s.ix.Get(key) }

func (s *fakeSource) HostKey(host string) (string, bool) {
	m := s.ix.Resolve(&adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: host, NetbiosName: host})
	if m.Entity == nil {
		return "", false
	}
	return m.Entity.GetKey(), true
}

func (s *fakeSource) UserKey(domainName, sam, sid string) (string, bool) {
	m := s.ix.Resolve(&adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid, SamAccountName: sam, Domain: domainName})
	if m.Entity == nil || m.Entity.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER {
		return "", false
	}
	return m.Entity.GetKey(), true
}

// placed is an alert counted on keys, linked through links (keys when nil), as the correlator
// would count it.
type placed struct {
	a     *adjoinv1.Alert
	keys  []string
	links []string
}

func (p placed) linkKeys() []string {
	if p.links != nil {
		return p.links
	}
	return p.keys
}

func (s *fakeSource) count(ps ...placed) {
	for _, p := range ps {
		s.window.Add(windowAlert(p.a, p.keys, p.linkKeys()))
	}
}

// windowAlert is alert a counted on keys, linked through links, as the window holds it.
func windowAlert(a *adjoinv1.Alert, keys, links []string) domain.Alert {
	w := domain.Alert{ID: a.GetId(), Version: a.GetVersion(), Side: a.GetSide(), Severity: a.GetSeverity(), Status: a.GetStatus(),
		Keys: keys, Links: links}
	if a.GetFirstActivity() != nil {
		w.First = a.GetFirstActivity().AsTime()
	}
	if a.GetLastActivity() != nil {
		w.Last = a.GetLastActivity().AsTime()
	}
	return w
}

type alertOpt func(*adjoinv1.Alert)

func withStatus(s adjoinv1.AlertStatus) alertOpt { return func(a *adjoinv1.Alert) { a.Status = s } }
func withSeverity(s adjoinv1.Severity) alertOpt  { return func(a *adjoinv1.Alert) { a.Severity = s } }
func lasting(d time.Duration) alertOpt {
	return func(a *adjoinv1.Alert) { a.LastActivity = timestamppb.New(a.GetFirstActivity().AsTime().Add(d)) }
}

func newAlert(id string, side adjoinv1.Side, at time.Time, opts ...alertOpt) *adjoinv1.Alert {
	a := &adjoinv1.Alert{
		Id: id, Side: side, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		Version: 1, FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Minute)),
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func identity(id string, at time.Time, opts ...alertOpt) *adjoinv1.Alert {
	return newAlert(id, adjoinv1.Side_SIDE_IDENTITY, at, opts...)
}

func endpoint(id string, at time.Time, opts ...alertOpt) *adjoinv1.Alert {
	return newAlert(id, adjoinv1.Side_SIDE_ENDPOINT, at, opts...)
}

// TestGrouperGroup groups counted alerts and checks the incident, and that it is identical
// (proto.Equal) whichever of its alerts is the seed, on repeated calls.
func TestGrouperGroup(t *testing.T) {
	const window = time.Hour
	t0 := utc("2020-08-05T06:10:00Z")
	s1 := sample.Events(t, fileS1)
	const (
		resolved   = adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
		inProgress = adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS
	)
	tests := []struct {
		name      string
		alerts    []placed
		logons    []*adjoinv1.Event
		maxAlerts int
		seed      string
		wantIDs   []string          // alert_ids, oldest first; nil: no incident
		wantKinds map[string]string // alert id → reason kind, for every alert but the earliest
		wantKeys  []string
		wantTitle string // a substring
		// wantSummary: alert id → substrings its reason summary must contain.
		wantSummary   map[string][]string
		wantTruncated bool
		wantStatus    adjoinv1.AlertStatus
	}{
		{
			name: "two alerts on one user within the window",
			alerts: []placed{
				{a: identity("dcsync", t0), keys: []string{keyPgustavo}},
				{a: endpoint("grunt", t0.Add(30*time.Minute)), keys: []string{keyPgustavo}},
			},
			seed: "grunt", wantIDs: []string{"dcsync", "grunt"},
			wantKinds: map[string]string{"grunt": domain.ReasonSameUser}, wantKeys: []string{keyPgustavo},
			wantTitle:   "Cross-source incident: 2 alert(s) on 1 entit(ies), identity and endpoint",
			wantSummary: map[string][]string{"grunt": {`same user theshire\pgustavo`, "linked to alert dcsync"}},
		},
		{
			name: "one side only is no cross-source incident",
			alerts: []placed{
				{a: identity("dcsync", t0), keys: []string{keyPgustavo}},
				{a: identity("samr", t0.Add(time.Minute)), keys: []string{keyPgustavo}},
			},
			seed: "dcsync", wantIDs: []string{"dcsync", "samr"},
			wantKinds: map[string]string{"samr": domain.ReasonSameUser}, wantKeys: []string{keyPgustavo},
			wantTitle: "2 alert(s) on 1 entit(ies)",
		},
		{
			name: "outside the window, seen from the later alert",
			alerts: []placed{
				{a: identity("early", t0), keys: []string{keyPgustavo}},
				{a: endpoint("late", t0.Add(window+time.Second)), keys: []string{keyPgustavo}},
			},
			seed: "late", wantIDs: []string{"late"}, wantKeys: []string{keyPgustavo},
		},
		{
			name: "outside the window, seen from the earlier alert",
			alerts: []placed{
				{a: identity("early", t0), keys: []string{keyPgustavo}},
				{a: endpoint("late", t0.Add(window+time.Second)), keys: []string{keyPgustavo}},
			},
			seed: "early", wantIDs: []string{"early"}, wantKeys: []string{keyPgustavo},
		},
		{
			name: "same host within the window",
			alerts: []placed{
				{a: endpoint("lsass", t0), keys: []string{keyWS6}},
				{a: identity("pth", t0.Add(10*time.Minute)), keys: []string{keyWS6, keyWardog}},
			},
			seed: "pth", wantIDs: []string{"lsass", "pth"},
			wantKinds: map[string]string{"pth": domain.ReasonSameHost}, wantKeys: []string{keyWS6, keyWardog}, // sorted as strings
			wantSummary: map[string][]string{"pth": {"same host WORKSTATION6.theshire.local"}},
		},
		{
			name: "transitive chain wider than the window",
			alerts: []placed{
				{a: identity("a", t0), keys: []string{keyPgustavo}},
				{a: endpoint("b", t0.Add(50*time.Minute)), keys: []string{keyPgustavo}},
				{a: identity("c", t0.Add(100*time.Minute)), keys: []string{keyPgustavo}},
			},
			seed: "c", wantIDs: []string{"a", "b", "c"},
			wantKinds:   map[string]string{"b": domain.ReasonSameUser, "c": domain.ReasonSameUser},
			wantSummary: map[string][]string{"b": {"linked to alert a"}, "c": {"linked to alert b"}},
			wantKeys:    []string{keyPgustavo},
		},
		{
			name: "the chain without its middle falls apart",
			alerts: []placed{
				{a: identity("a", t0), keys: []string{keyPgustavo}},
				{a: identity("c", t0.Add(100*time.Minute)), keys: []string{keyPgustavo}},
			},
			seed: "c", wantIDs: []string{"c"}, wantKeys: []string{keyPgustavo},
		},
		{
			name: "alerts sharing only a domain controller stay apart",
			alerts: []placed{
				{a: identity("dcsync", t0), keys: []string{keyPgustavo, keyMordorDC}},
				{a: identity("samr", t0.Add(time.Minute)), keys: []string{keySbeavers, keyMordorDC}},
				{a: endpoint("dc-lsass", t0.Add(2*time.Minute)), keys: []string{keyMordorDC}},
			},
			seed: "samr", wantIDs: []string{"samr"}, wantKeys: []string{keySbeavers},
		},
		{
			name: "an alert only on a domain controller is alone",
			alerts: []placed{
				{a: identity("dcsync", t0), keys: []string{keyPgustavo, keyMordorDC}},
				{a: endpoint("dc-lsass", t0.Add(2*time.Minute)), keys: []string{keyMordorDC}},
			},
			seed: "dc-lsass", wantIDs: []string{"dc-lsass"},
		},
		{
			name: "user logged on to host through one 4624",
			alerts: []placed{
				{a: identity("ptt", t0), keys: []string{keyPgustavo}},
				{a: endpoint("rubeus", t0.Add(10*time.Minute)), keys: []string{keyWS6}},
			},
			logons: []*adjoinv1.Event{logon4624("WORKSTATION6.theshire.local", "THESHIRE", "pgustavo", keyPgustavo, "-", t0.Add(5*time.Minute))},
			seed:   "rubeus", wantIDs: []string{"ptt", "rubeus"},
			wantKinds: map[string]string{"rubeus": domain.ReasonUserOnHost}, wantKeys: []string{keyPgustavo, keyWS6},
			wantSummary: map[string][]string{"rubeus": {"pgustavo logged on to workstation6.theshire.local at 2020-08-05T06:15:00Z", "4624 type 3 pgustavo on WORKSTATION6.theshire.local"}},
			wantTitle:   "Cross-source incident",
		},
		{
			name: "a logon outside the window links nothing",
			alerts: []placed{
				{a: identity("ptt", t0), keys: []string{keyPgustavo}},
				{a: endpoint("rubeus", t0.Add(10*time.Minute)), keys: []string{keyWS6}},
			},
			logons: []*adjoinv1.Event{logon4624("WORKSTATION6.theshire.local", "THESHIRE", "pgustavo", keyPgustavo, "-", t0.Add(-2*window))},
			seed:   "rubeus", wantIDs: []string{"rubeus"}, wantKeys: []string{keyWS6},
		},
		{
			// S1: the DCSync on MORDORDC (target) and GruntHTTP.exe on WORKSTATION5 meet through
			// pgustavo's 4769 from 172.18.39.5, which WORKSTATION5's own Sysmon 3 records place
			// on it. pgustavo also logged on to MORDORDC itself: that must not pull in the DC's
			// own alert.
			name: "S1 recording: DCSync by pgustavo and the Grunt on WORKSTATION5",
			alerts: []placed{
				{a: identity("dcsync", utc("2020-08-05T06:10:02Z")), keys: []string{keyMordorDC, keyPgustavo}, links: []string{keyPgustavo}},
				{a: endpoint("grunt", utc("2020-08-05T06:10:01.065Z")), keys: []string{keyWS5}},
				{a: endpoint("dc-replication", utc("2020-08-05T06:10:02Z")), keys: []string{keyMordorDC}},
			},
			logons: s1,
			seed:   "dcsync", wantIDs: []string{"grunt", "dcsync"},
			wantKinds: map[string]string{"dcsync": domain.ReasonUserOnHost}, wantKeys: []string{keyPgustavo, keyWS5},
			wantSummary: map[string][]string{"dcsync": {"logged on to WORKSTATION5.theshire.local", "172.18.39.5", "linked to alert grunt"}},
			wantTitle:   "Cross-source incident",
		},
		{
			// Both users' logons to WORKSTATION5 carry the same second, as a 4624 burst does.
			name: "two users logged on to one host at the same time",
			alerts: []placed{
				{a: endpoint("host", t0), keys: []string{keyWS5}},
				{a: identity("u1", t0.Add(time.Minute)), keys: []string{keyPgustavo}},
				{a: identity("u2", t0.Add(2*time.Minute)), keys: []string{keySbeavers}},
			},
			logons: []*adjoinv1.Event{
				logon4624("WORKSTATION5.theshire.local", "THESHIRE", "sbeavers", keySbeavers, "-", t0.Add(30*time.Second)),
				logon4624("WORKSTATION5.theshire.local", "THESHIRE", "pgustavo", keyPgustavo, "-", t0.Add(30*time.Second)),
			},
			seed: "u2", wantIDs: []string{"host", "u1", "u2"},
			wantKinds: map[string]string{"u1": domain.ReasonUserOnHost, "u2": domain.ReasonUserOnHost},
			wantKeys:  []string{keyPgustavo, keySbeavers, keyWS5},
		},
		{
			name: "severity is the highest, activity spans all alerts",
			alerts: []placed{
				{a: identity("a", t0, withSeverity(adjoinv1.Severity_SEVERITY_LOW), lasting(2*time.Hour)), keys: []string{keyPgustavo}},
				{a: endpoint("b", t0.Add(time.Minute), withSeverity(adjoinv1.Severity_SEVERITY_HIGH)), keys: []string{keyPgustavo}},
			},
			seed: "a", wantIDs: []string{"a", "b"}, wantKinds: map[string]string{"b": domain.ReasonSameUser},
		},
		{
			name: "all resolved",
			alerts: []placed{
				{a: identity("a", t0, withStatus(resolved)), keys: []string{keyPgustavo}},
				{a: endpoint("b", t0.Add(time.Minute), withStatus(resolved)), keys: []string{keyPgustavo}},
			},
			seed: "b", wantIDs: []string{"a", "b"}, wantKinds: map[string]string{"b": domain.ReasonSameUser},
			wantStatus: resolved,
		},
		{
			name: "one in progress keeps it open",
			alerts: []placed{
				{a: identity("a", t0, withStatus(resolved)), keys: []string{keyPgustavo}},
				{a: endpoint("b", t0.Add(time.Minute), withStatus(inProgress)), keys: []string{keyPgustavo}},
			},
			seed: "a", wantIDs: []string{"a", "b"}, wantKinds: map[string]string{"b": domain.ReasonSameUser},
			wantStatus: adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		},
		{
			name: "MaxAlerts truncates",
			alerts: []placed{
				{a: identity("a1", t0), keys: []string{keyPgustavo}},
				{a: identity("a2", t0.Add(1*time.Minute)), keys: []string{keyPgustavo}},
				{a: identity("a3", t0.Add(2*time.Minute)), keys: []string{keyPgustavo}},
				{a: identity("a4", t0.Add(3*time.Minute)), keys: []string{keyPgustavo}},
				{a: identity("a5", t0.Add(4*time.Minute)), keys: []string{keyPgustavo}},
			},
			maxAlerts: 3, seed: "a1", wantIDs: []string{"a1", "a2", "a3"},
			wantKinds:     map[string]string{"a2": domain.ReasonSameUser, "a3": domain.ReasonSameUser},
			wantTruncated: true, wantTitle: "3 alert(s)",
		},
		{
			name: "MaxAlerts not reached",
			alerts: []placed{
				{a: identity("a1", t0), keys: []string{keyPgustavo}},
				{a: identity("a2", t0.Add(time.Minute)), keys: []string{keyPgustavo}},
			},
			maxAlerts: 2, seed: "a2", wantIDs: []string{"a1", "a2"}, wantKinds: map[string]string{"a2": domain.ReasonSameUser},
		},
		{
			name:   "seed not counted on the keys given",
			alerts: []placed{{a: identity("a", t0), keys: []string{keyPgustavo}}},
			seed:   "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeSource()
			src.count(tt.alerts...)
			l := domain.NewLogons(0)
			for _, ev := range tt.logons {
				l.Observe(ev)
			}
			g := &domain.Grouper{Window: window, MaxAlerts: tt.maxAlerts, Logons: l, Source: src, Alerts: src.window}
			byID := map[string]placed{}
			for _, p := range tt.alerts {
				byID[p.a.GetId()] = p
			}
			inc := g.Group(tt.seed, byID[tt.seed].linkKeys())
			if tt.wantIDs == nil {
				if inc != nil {
					t.Fatalf("Group = %v, want nil", inc)
				}
				return
			}
			if inc == nil {
				t.Fatal("Group = nil")
			}
			if !slices.Equal(inc.GetAlertIds(), tt.wantIDs) {
				t.Fatalf("alert_ids = %q, want %q", inc.GetAlertIds(), tt.wantIDs)
			}
			if want := entity.HashID("incident", tt.wantIDs[0]); inc.GetId() != want {
				t.Errorf("id = %s, want HashID(incident, %s) = %s", inc.GetId(), tt.wantIDs[0], want)
			}
			gotKinds := map[string]string{}
			for _, r := range inc.GetReasons() {
				if _, dup := gotKinds[r.GetAlertId()]; dup {
					t.Errorf("two reasons for %s", r.GetAlertId())
				}
				gotKinds[r.GetAlertId()] = r.GetKind()
				for _, want := range tt.wantSummary[r.GetAlertId()] {
					if !strings.Contains(r.GetSummary(), want) {
						t.Errorf("summary of %s = %q, want it to contain %q", r.GetAlertId(), r.GetSummary(), want)
					}
				}
				if r.GetKind() == domain.ReasonUserOnHost && len(r.GetEntityKeys()) != 2 {
					t.Errorf("reason of %s links %q, want a user and a host", r.GetAlertId(), r.GetEntityKeys())
				}
			}
			if len(gotKinds) != len(tt.wantKinds) {
				t.Errorf("reasons %v, want %v", gotKinds, tt.wantKinds)
			}
			for id, kind := range tt.wantKinds {
				if gotKinds[id] != kind {
					t.Errorf("reason of %s = %q, want %q", id, gotKinds[id], kind)
				}
			}
			if tt.wantKeys != nil && !slices.Equal(inc.GetEntityKeys(), tt.wantKeys) {
				t.Errorf("entity_keys = %q, want %q", inc.GetEntityKeys(), tt.wantKeys)
			}
			for _, k := range inc.GetEntityKeys() {
				if e, _ := src.Entity(k); entity.IsDomainController(e) {
					t.Errorf("entity_keys holds domain controller %s", k)
				}
			}
			if inc.GetTruncated() != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v", inc.GetTruncated(), tt.wantTruncated)
			}
			checkSummary(t, inc, byID, tt.wantStatus)
			if tt.wantTitle != "" && !strings.Contains(inc.GetTitle(), tt.wantTitle) {
				t.Errorf("title = %q, want it to contain %q", inc.GetTitle(), tt.wantTitle)
			}
			if tt.wantTruncated {
				return
			}
			// The same incident from every alert, every time.
			for _, id := range tt.wantIDs {
				for range 10 {
					again := g.Group(id, byID[id].linkKeys())
					if !proto.Equal(again, inc) {
						t.Fatalf("incident seeded by %s differs:\n got %v\nwant %v", id, again, inc)
					}
				}
			}
		})
	}
}

// checkSummary checks severity, status, activity and title against the alerts of inc.
func checkSummary(t *testing.T, inc *adjoinv1.Incident, byID map[string]placed, wantStatus adjoinv1.AlertStatus) {
	t.Helper()
	var sev adjoinv1.Severity
	var first, last time.Time
	sides := map[adjoinv1.Side]bool{}
	open := false
	for _, id := range inc.GetAlertIds() {
		a := byID[id].a
		sev = max(sev, a.GetSeverity())
		if f := a.GetFirstActivity().AsTime(); first.IsZero() || f.Before(first) {
			first = f
		}
		if l := a.GetLastActivity().AsTime(); l.After(last) {
			last = l
		}
		sides[a.GetSide()] = true
		open = open || a.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	}
	if inc.GetSeverity() != sev {
		t.Errorf("severity = %v, want %v", inc.GetSeverity(), sev)
	}
	want := adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	if open {
		want = adjoinv1.AlertStatus_ALERT_STATUS_NEW
	}
	if wantStatus != adjoinv1.AlertStatus_ALERT_STATUS_UNSPECIFIED && wantStatus != want {
		t.Fatalf("test expects status %v, alerts give %v", wantStatus, want)
	}
	if inc.GetStatus() != want {
		t.Errorf("status = %v, want %v", inc.GetStatus(), want)
	}
	if !inc.GetFirstActivity().AsTime().Equal(first) || !inc.GetLastActivity().AsTime().Equal(last) {
		t.Errorf("activity %v – %v, want %v – %v", inc.GetFirstActivity().AsTime(), inc.GetLastActivity().AsTime(), first, last)
	}
	if cross := strings.Contains(inc.GetTitle(), "Cross-source"); cross != (len(sides) > 1) {
		t.Errorf("title %q with sides %v", inc.GetTitle(), sides)
	}
}
