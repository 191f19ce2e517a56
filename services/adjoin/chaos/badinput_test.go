package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestBadInput is scenario 4: malformed, oversized (over the 512 KiB line limit) and
// entity-less inputs mixed into real events through the DC ingestor's HTTP intake. Every bad
// line is refused with its line number and reason in the answer and lands in DEADLETTER
// exactly once (some batches are sent twice); the valid events are all in DC_EVENTS, once.
// Entity-less alerts are what docs/api.md and DESIGN document: the intake passes a product
// alert through, and the correlator, which cannot count an alert without an entity, refuses it
// (invalid-alert) and dead-letters it, once.
func TestBadInput(t *testing.T) {
	b := setup(t)
	v := chaos.NewVerdict(t, "scenario 4: malformed, oversized and entity-less input")
	var (
		valid      = chaos.Pick(mode, 2000, 10000)
		malformed  = chaos.Pick(mode, 70, 650)
		oversized  = chaos.Pick(mode, 10, 150)
		entityless = chaos.Pick(mode, 20, 200)
		seed       = uint64(4242)
	)
	ctx, cancel := context.WithTimeout(context.Background(), chaos.Pick(mode, 3*time.Minute, 10*time.Minute))
	defer cancel()
	dir, srv := startSingle(t, ctx, b)
	dc, err := chaos.NewDCIngest(b.DCIngest, dir, srv.URL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	corr, err := chaos.NewCorrelator(b.Correlator, dir, srv.URL(), 1)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, dc.Proc, corr.Proc, srv.Proc)
	for _, s := range []*chaos.Service{dc, corr} {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	js := connect(t, srv.URL())

	good, err := chaos.DistinctLines(valid, recordings(t)...)
	if err != nil {
		t.Fatal(err)
	}
	bad := chaos.BadLines(malformed, oversized, seed)
	type item struct {
		line []byte
		bad  *chaos.BadLine
	}
	var items []item
	for _, l := range good {
		items = append(items, item{line: l})
	}
	for i := range bad {
		items = append(items, item{line: bad[i].Line, bad: &bad[i]})
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	v.Figure("%d valid lines of real recordings, %d malformed, %d oversized (%d-%d bytes), %d entity-less product alerts",
		len(good), malformed, oversized, chaos.MaxLine+1, chaos.MaxLine+64<<10, entityless)

	client := &http.Client{Timeout: 2 * time.Minute}
	var answerProblems []string
	answerProblem := func(format string, args ...any) {
		if len(answerProblems) < 10 {
			answerProblems = append(answerProblems, fmt.Sprintf(format, args...))
		}
	}
	accepted := map[string]bool{}
	rejectedOK, resent, alertsAccepted := 0, 0, 0
	nextAlert := 0
	const batch = 100
	for start := 0; start < len(items); start += batch {
		part := items[start:min(start+batch, len(items))]
		var body bytes.Buffer
		for _, it := range part {
			body.Write(it.line)
			body.WriteByte('\n')
		}
		// One batch in ten is sent twice, as a sender that lost the answer would.
		sends := 1
		if rng.IntN(10) == 0 {
			sends, resent = 2, resent+1
		}
		for range sends {
			code, r, err := chaos.Post(ctx, client, dc.URL()+"/v1/events", body.Bytes())
			if err != nil || (code != http.StatusOK && code != http.StatusUnprocessableEntity) {
				t.Fatalf("batch at %d: status %d, %v, %s", start, code, err, r.Error)
			}
			got := map[int]intake.Rejected{}
			for _, rj := range r.Rejected {
				got[rj.Line] = rj
			}
			for i, it := range part {
				rj, refused := got[i+1]
				switch {
				case it.bad == nil && refused:
					answerProblem("valid line %d of batch %d refused: %s %s", i+1, start, rj.Reason, rj.Error)
				case it.bad == nil:
					accepted[string(it.line)] = true
				case !refused:
					answerProblem("%s (%s) not refused", it.bad.Marker, it.bad.Reason)
				case rj.Reason != it.bad.Reason || rj.Error == "":
					answerProblem("%s refused as %q (%q), want %q with an error", it.bad.Marker, rj.Reason, rj.Error, it.bad.Reason)
				default:
					rejectedOK++
				}
			}
		}
		// Entity-less product alerts, a page of them between event batches.
		if nextAlert < entityless {
			n := min(max(entityless*batch/len(items), 1), entityless-nextAlert)
			var page [][]byte
			for i := range n {
				page = append(page, chaos.EntitylessAlert(nextAlert+i))
			}
			nextAlert += n
			body := []byte(`{"value":[` + string(bytes.Join(page, []byte(","))) + `]}`)
			code, r := postAlerts(t, ctx, client, dc.URL()+"/v1/product-alerts", body)
			if code != http.StatusOK || r.Accepted != n || len(r.Refused) != 0 {
				answerProblem("entity-less page of %d: status %d, %+v", n, code, r)
			}
			alertsAccepted += r.Accepted
		}
	}
	for ; nextAlert < entityless; nextAlert++ {
		code, r := postAlerts(t, ctx, client, dc.URL()+"/v1/product-alerts", chaos.EntitylessAlert(nextAlert))
		if code != http.StatusOK || r.Accepted != 1 {
			answerProblem("entity-less alert %d: status %d, %+v", nextAlert, code, r)
		}
		alertsAccepted += r.Accepted
	}
	v.Figure("%d batches sent twice; %d refusals answered with the right line and reason; %d entity-less alerts accepted by the intake",
		resent, rejectedOK, alertsAccepted)
	v.Check("every bad line is refused in the answer with its line number, reason and error, every valid line accepted", answerProblems...)

	if err := chaos.WaitCorrelated(ctx, js, "correlator"); err != nil {
		t.Fatal(err)
	}
	// What DEADLETTER holds, by marker (refused lines) or product alert id (entity-less alerts).
	type letter struct {
		subject, err string
		n            int
	}
	lines, alerts := map[string]*letter{}, map[string]*letter{}
	var stray []string
	err = chaos.ReadStream(ctx, js, natsx.StreamDeadLetter, "", func(m jetstream.Msg) error {
		errText := m.Headers().Get(natsx.HeaderError)
		if strings.HasPrefix(m.Subject(), "deadletter.correlator.") {
			var a adjoinv1.Alert
			if err := natsx.Decode(nil, m.Data(), &a); err == nil && strings.HasPrefix(a.GetProductAlertId(), "noentity-") {
				l := alerts[a.GetProductAlertId()]
				if l == nil {
					l = &letter{subject: m.Subject(), err: errText}
					alerts[a.GetProductAlertId()] = l
				}
				l.n++
				return nil
			}
		}
		if mk := chaos.Marker(m.Data()); mk != "" && strings.HasPrefix(m.Subject(), "deadletter.dcingest.") {
			l := lines[mk]
			if l == nil {
				l = &letter{subject: m.Subject(), err: errText}
				lines[mk] = l
			}
			l.n++
			return nil
		}
		stray = append(stray, fmt.Sprintf("%s: %q", m.Subject(), clip(m.Data())))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, bl := range bad {
		l := lines[bl.Marker]
		switch {
		case l == nil:
			problems = append(problems, bl.Marker+" ("+bl.Reason+") not in DEADLETTER")
		case l.n != 1:
			problems = append(problems, fmt.Sprintf("%s in DEADLETTER %d times", bl.Marker, l.n))
		case l.subject != "deadletter.dcingest."+bl.Reason || l.err == "":
			problems = append(problems, fmt.Sprintf("%s on %s with error %q, want deadletter.dcingest.%s with an error", bl.Marker, l.subject, l.err, bl.Reason))
		}
	}
	v.Check("DEADLETTER holds each refused line exactly once, on deadletter.dcingest.<reason>, with its error", limit(problems)...)
	problems = nil
	for i := range entityless {
		id := fmt.Sprintf("noentity-%06d", i)
		l := alerts[id]
		switch {
		case l == nil:
			problems = append(problems, id+" not in DEADLETTER")
		case l.n != 1:
			problems = append(problems, fmt.Sprintf("%s in DEADLETTER %d times", id, l.n))
		case l.subject != "deadletter.correlator.invalid-alert" || !strings.Contains(l.err, "no entity references"):
			problems = append(problems, fmt.Sprintf("%s on %s (%q), want deadletter.correlator.invalid-alert, no entity references", id, l.subject, l.err))
		}
	}
	v.Check("the correlator dead-letters each entity-less alert exactly once (invalid-alert: no entity references)", limit(problems)...)
	v.Check("nothing else is dead-lettered", limit(stray)...)

	want := map[string]bool{}
	for l := range accepted {
		want[chaos.EventMsgID([]byte(l))] = true
	}
	v.Check("DC_EVENTS holds exactly the valid lines, once each",
		compareIDs("DC_EVENTS", msgIDs(t, ctx, js, natsx.StreamDCEvents, ""), want)...)
	v.Checkf("every valid line was accepted", len(accepted) == len(good), "%d of %d valid lines accepted", len(accepted), len(good))
	leaked := 0
	if err := chaos.ReadStream(ctx, js, natsx.StreamCorrelated, "", func(m jetstream.Msg) error {
		var c adjoinv1.CorrelatedAlert
		if natsx.Decode(m.Headers(), m.Data(), &c) == nil && strings.HasPrefix(c.GetAlert().GetProductAlertId(), "noentity-") {
			leaked++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v.Checkf("no entity-less alert reaches CORRELATED", leaked == 0, "%d on CORRELATED", leaked)
	v.Figure("DEADLETTER: %d refused lines, %d entity-less alerts, %d other", len(lines), len(alerts), len(stray))
}

func postAlerts(t *testing.T, ctx context.Context, client *http.Client, url string, body []byte) (int, intake.ProductAlertsResponse) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r intake.ProductAlertsResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("product alerts answer %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, r
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// limit keeps the first 10 problems and says how many there were.
func limit(problems []string) []string {
	if len(problems) <= 10 {
		return problems
	}
	return append(problems[:10:10], fmt.Sprintf("... %d in all", len(problems)))
}
