package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/counts"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// AlertSubject is where the synthetic alerts of a side are published; the ingestors' own
// detections use other subjects, so checks can tell them apart.
func AlertSubject(side adjoinv1.Side) string {
	if side == adjoinv1.Side_SIDE_IDENTITY {
		return natsx.SubjectIdentityAlerts + ".chaos"
	}
	return natsx.SubjectEndpointAlerts + ".chaos"
}

// PutUsers stores n users in adjoin_directory and returns their keys (their SIDs).
func PutUsers(ctx context.Context, js jetstream.JetStream, n int) ([]string, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return nil, err
	}
	keys := make([]string, n)
	for i := range n {
		sid := fmt.Sprintf("S-1-5-21-7-8-9-%d", 1000+i)
		data, err := proto.Marshal(&adjoinv1.Entity{
			Key: sid, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid,
			SamAccountName: fmt.Sprintf("chaos%d", i), NetbiosDomain: "CHAOS", DnsDomain: "chaos.test",
		})
		if err != nil {
			return nil, err
		}
		if _, err := kv.Put(ctx, sid, data); err != nil {
			return nil, err
		}
		keys[i] = sid
	}
	return keys, nil
}

// InputKind says what a published message is to the ground truth.
type InputKind int

// Kinds of input message.
const (
	Original  InputKind = iota
	Duplicate           // the same alert version again, under a new Nats-Msg-Id
	Update              // a newer version of the alert (resolved, sometimes another severity)
)

// AlertMsg is one publish of generated input.
type AlertMsg struct {
	Kind  InputKind
	User  string
	MsgID string
	Alert *adjoinv1.Alert
	order float64
}

// AlertLoad describes generated alert input.
type AlertLoad struct {
	Alerts     int     // distinct alerts
	DupRate    float64 // share re-published under another Nats-Msg-Id
	UpdateRate float64 // share that get a version 2
	Seed       uint64
	Prefix     string // alert ids are Prefix + number, so loads do not collide
}

// Generate returns the input in publish order: every original alert, each duplicate and update
// some way after its original (so a duplicate of version 1 sometimes comes after version 2).
func (l AlertLoad) Generate(users []string) []AlertMsg {
	rng := rand.New(rand.NewPCG(l.Seed, l.Seed^0x9e3779b97f4a7c15))
	sides := []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT}
	sevs := []adjoinv1.Severity{adjoinv1.Severity_SEVERITY_INFORMATIONAL, adjoinv1.Severity_SEVERITY_LOW,
		adjoinv1.Severity_SEVERITY_MEDIUM, adjoinv1.Severity_SEVERITY_HIGH}
	statuses := []adjoinv1.AlertStatus{adjoinv1.AlertStatus_ALERT_STATUS_NEW, adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS}
	// Spread over 200 days, so with the 24 h incident window incidents stay small.
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 200 * 24 * time.Hour / time.Duration(max(l.Alerts, 1))
	var out []AlertMsg
	for i := range l.Alerts {
		id := fmt.Sprintf("%s%d", l.Prefix, i)
		user := users[rng.IntN(len(users))]
		side := sides[rng.IntN(2)]
		at := base.Add(time.Duration(i) * step)
		a := SyntheticAlert(id, side, sevs[rng.IntN(len(sevs))], statuses[rng.IntN(2)], 1, at, user)
		out = append(out, AlertMsg{Kind: Original, User: user, MsgID: id + ".v1", Alert: a, order: float64(i)})
		if rng.Float64() < l.DupRate {
			out = append(out, AlertMsg{Kind: Duplicate, User: user, MsgID: id + ".v1.again", Alert: a,
				order: float64(i) + 0.5 + float64(rng.IntN(2000))})
		}
		if rng.Float64() < l.UpdateRate {
			sev := a.GetSeverity()
			if rng.IntN(2) == 0 {
				sev = sevs[rng.IntN(len(sevs))]
			}
			u := SyntheticAlert(id, side, sev, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, 2, at, user)
			out = append(out, AlertMsg{Kind: Update, User: user, MsgID: id + ".v2", Alert: u,
				order: float64(i) + 0.25 + float64(rng.IntN(2000))})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

// SyntheticAlert is a user alert as an ingestor would publish it.
func SyntheticAlert(id string, side adjoinv1.Side, sev adjoinv1.Severity, status adjoinv1.AlertStatus, version int64, at time.Time, sid string) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: id, Side: side, Source: "chaos", Detector: "synthetic", Title: "synthetic alert " + id,
		Severity: sev, Status: status, Version: version,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Minute)),
		UpdatedTime: timestamppb.New(at.Add(time.Duration(version) * time.Hour)),
		Entities:    []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid}},
	}
}

// CountKind counts the messages of a kind.
func CountKind(in []AlertMsg, k InputKind) int {
	n := 0
	for _, m := range in {
		if m.Kind == k {
			n++
		}
	}
	return n
}

// SideCounts is one side's badge numbers on one user: what GetBadge returns as total, open,
// by_severity and highest_severity.
type SideCounts struct {
	Total, Open int64
	BySeverity  map[adjoinv1.Severity]int64
	Highest     adjoinv1.Severity
}

func (s SideCounts) String() string {
	var sev []string
	for k := adjoinv1.Severity_SEVERITY_UNSPECIFIED; k <= adjoinv1.Severity_SEVERITY_HIGH; k++ {
		if n := s.BySeverity[k]; n > 0 {
			sev = append(sev, fmt.Sprintf("%s:%d", strings.TrimPrefix(k.String(), "SEVERITY_"), n))
		}
	}
	return fmt.Sprintf("total %d open %d highest %s [%s]", s.Total, s.Open, strings.TrimPrefix(s.Highest.String(), "SEVERITY_"), strings.Join(sev, " "))
}

func (s SideCounts) equal(o SideCounts) bool {
	if s.Total != o.Total || s.Open != o.Open || s.Highest != o.Highest {
		return false
	}
	for k := adjoinv1.Severity_SEVERITY_UNSPECIFIED; k <= adjoinv1.Severity_SEVERITY_HIGH; k++ {
		if s.BySeverity[k] != o.BySeverity[k] {
			return false
		}
	}
	return true
}

// Truth is the expected counts: user -> side -> counts.
type Truth map[string]map[adjoinv1.Side]SideCounts

// GroundTruth is what one clean pass over the input gives, computed from the input alone
// (not with pkg/counts): per user, each distinct alert at its highest version; open unless
// resolved.
func GroundTruth(in []AlertMsg) Truth {
	type state struct {
		side     adjoinv1.Side
		version  int64
		status   adjoinv1.AlertStatus
		severity adjoinv1.Severity
	}
	states := map[string]map[string]state{}
	for _, m := range in {
		if states[m.User] == nil {
			states[m.User] = map[string]state{}
		}
		a := m.Alert
		if cur, ok := states[m.User][a.GetId()]; ok && cur.version >= a.GetVersion() {
			continue
		}
		states[m.User][a.GetId()] = state{a.GetSide(), a.GetVersion(), a.GetStatus(), a.GetSeverity()}
	}
	out := Truth{}
	for user, alerts := range states {
		out[user] = map[adjoinv1.Side]SideCounts{}
		for _, st := range alerts {
			s := out[user][st.side]
			if s.BySeverity == nil {
				s.BySeverity = map[adjoinv1.Severity]int64{}
			}
			s.Total++
			if st.status != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
				s.Open++
			}
			s.BySeverity[st.severity]++
			s.Highest = max(s.Highest, st.severity)
			out[user][st.side] = s
		}
	}
	return out
}

// PublishAll publishes the input asynchronously, a window at a time, and waits for every
// acknowledgement, publishing again (same Nats-Msg-Id) whatever was not acknowledged, until
// ctx ends: through NATS restarts and leader elections every message ends up stored once. It
// returns how many publishes were retried.
func PublishAll(ctx context.Context, js jetstream.JetStream, in []AlertMsg) (int, error) {
	const window = 500
	retries := 0
	for len(in) > 0 {
		chunk := in[:min(window, len(in))]
		in = in[len(chunk):]
		todo := chunk
		for attempt := 0; len(todo) > 0; attempt++ {
			if attempt > 0 {
				retries += len(todo)
				select {
				case <-ctx.Done():
					return retries, fmt.Errorf("%d publishes not acknowledged: %w", len(todo), ctx.Err())
				case <-time.After(250 * time.Millisecond):
				}
			}
			var failed []AlertMsg
			futures := make([]jetstream.PubAckFuture, len(todo))
			for i, m := range todo {
				msg, err := natsx.NewMsg(AlertSubject(m.Alert.GetSide()), m.MsgID, m.Alert)
				if err != nil {
					return retries, err
				}
				if futures[i], err = js.PublishMsgAsync(msg); err != nil {
					futures[i] = nil
				}
			}
			for i, f := range futures {
				if f == nil {
					failed = append(failed, todo[i])
					continue
				}
				select {
				case ack := <-f.Ok():
					// A duplicate is expected only when a previous attempt was stored but its
					// acknowledgement was lost.
					if ack.Duplicate && attempt == 0 {
						return retries, fmt.Errorf("publish %s: stored as a duplicate on the first attempt", todo[i].MsgID)
					}
				case <-f.Err():
					failed = append(failed, todo[i])
				case <-ctx.Done():
					return retries, ctx.Err()
				}
			}
			todo = failed
		}
	}
	return retries, nil
}

// CheckCounts compares every user's stored counts (format 1 or 2), decoded and summarised as the badge
// service does (pkg/counts.Summarise), with the ground truth, and checks that no alert is
// held twice. It returns the differences, at most 10 of them spelled out.
func CheckCounts(ctx context.Context, js jetstream.JetStream, users []string, want Truth) ([]string, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketBadges)
	if err != nil {
		return nil, err
	}
	var problems []string
	bad := 0
	for _, user := range users {
		ec := &adjoinv1.EntityCounts{}
		e, err := kv.Get(ctx, user)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, err
		default:
			if err := natsx.Decode(nil, e.Value(), ec); err != nil {
				return nil, fmt.Errorf("badge %s: %w", user, err)
			}
		}
		seen := map[string]bool{}
		// A format-1 record holds every alert, a format-2 one its recent alerts: none twice.
		for _, c := range append(slices.Clone(ec.GetAlerts()), ec.GetRecent()...) {
			if seen[c.GetAlertId()] {
				problems = append(problems, fmt.Sprintf("user %s: alert %s held twice", user, c.GetAlertId()))
			}
			seen[c.GetAlertId()] = true
		}
		for _, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT} {
			b := counts.Summarise(ec, side)
			got := SideCounts{Total: b.GetTotal(), Open: b.GetOpen(), Highest: b.GetHighestSeverity(), BySeverity: map[adjoinv1.Severity]int64{}}
			for _, s := range b.GetBySeverity() {
				got.BySeverity[s.GetSeverity()] = s.GetCount()
			}
			w := want[user][side]
			if w.BySeverity == nil {
				w.BySeverity = map[adjoinv1.Severity]int64{}
			}
			if !got.equal(w) {
				bad++
				if bad <= 10 {
					problems = append(problems, fmt.Sprintf("user %s %s: got %s, want %s", user, side, got, w))
				}
			}
		}
	}
	if bad > 10 {
		problems = append(problems, fmt.Sprintf("... %d user/side counts differ in all", bad))
	}
	return problems, nil
}

// CheckCorrelated reads every correlated.user.* message and checks that each (alert, version,
// user) of the input is there exactly once, on its user's subject, and nothing else is.
func CheckCorrelated(ctx context.Context, js jetstream.JetStream, in []AlertMsg) ([]string, error) {
	want := map[string]bool{}
	for _, m := range in {
		want[fmt.Sprintf("%s v%d %s", m.Alert.GetId(), m.Alert.GetVersion(), m.User)] = true
	}
	got := map[string]int{}
	var problems []string
	err := ReadStream(ctx, js, natsx.StreamCorrelated, natsx.SubjectCorrelatedUser+".*", func(m jetstream.Msg) error {
		var c adjoinv1.CorrelatedAlert
		if err := natsx.Decode(m.Headers(), m.Data(), &c); err != nil {
			return fmt.Errorf("correlated message on %s: %w", m.Subject(), err)
		}
		if w := natsx.CorrelatedSubject(false, c.GetEntityKey()); m.Subject() != w && len(problems) < 10 {
			problems = append(problems, fmt.Sprintf("alert %s for %s published on %s", c.GetAlert().GetId(), c.GetEntityKey(), m.Subject()))
		}
		got[fmt.Sprintf("%s v%d %s", c.GetAlert().GetId(), c.GetAlert().GetVersion(), c.GetEntityKey())]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	missing, extra := 0, 0
	for k := range want {
		if got[k] == 0 {
			if missing++; missing <= 5 {
				problems = append(problems, "correlated "+k+" missing")
			}
		}
	}
	for k, n := range got {
		switch {
		case !want[k]:
			if extra++; extra <= 5 {
				problems = append(problems, "correlated "+k+" not in the input")
			}
		case n > 1:
			if extra++; extra <= 5 {
				problems = append(problems, fmt.Sprintf("correlated %s published %d times", k, n))
			}
		}
	}
	if missing+extra > 0 {
		problems = append(problems, fmt.Sprintf("CORRELATED: %d of %d (alert, version, user) missing, %d extra or repeated", missing, len(want), extra))
	}
	return problems, nil
}
