package intake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// s1File is the OTRF S1 recording (Covenant DCSync against MORDORDC, 2020-08-05).
const s1File = "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"

// Hand-written lines, one per way of being refused.
const (
	lineNotJSON       = `EventID=4662 Channel=Security`
	lineNoEventID     = `{"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-08-05 02:10:02"}`
	lineArray         = `[{"EventID":4662}]`
	lineMinimalNXLog  = `{"EventID":4624,"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-08-05 02:10:02","TargetUserName":"pgustavo"}`
	lineMinimalNXLog2 = `{"EventID":4634,"Channel":"security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-08-05 02:10:03","TargetUserName":"pgustavo"}`
)

// findSharedData walks up from the working directory to the first ancestor holding
// shared/data, and skips the test when there is none.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/data not found beside the checkout")
		}
		dir = parent
	}
}

// realLine is a line of the S1 recording and the subject it must be published on.
type realLine struct {
	raw     string
	subject string
}

// s1Lines returns the three DCSync 4662 events, the 4769 ticket request and the first Sysmon
// network connection of the S1 recording, in file order.
func s1Lines(t *testing.T) []realLine {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedData(t), filepath.FromSlash(s1File)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []realLine
	seen := map[int32]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		ev, err := ParseWindows(sc.Bytes(), "")
		if err != nil {
			t.Fatalf("S1 line does not parse: %v", err)
		}
		want := 0
		switch {
		case ev.GetEventId() == 4662 && strings.EqualFold(ev.GetChannel(), "Security"):
			want = 3
		case ev.GetEventId() == 4769 && strings.EqualFold(ev.GetChannel(), "Security"):
			want = 1
		case ev.GetEventId() == 3 && strings.Contains(ev.GetChannel(), "Sysmon"):
			want = 1
		}
		if seen[ev.GetEventId()] < want {
			seen[ev.GetEventId()]++
			subject := "events.dc.security." + fmt.Sprint(ev.GetEventId())
			if ev.GetEventId() == 3 {
				subject = "events.dc.microsoft-windows-sysmon_operational.3"
			}
			out = append(out, realLine{raw: sc.Text(), subject: subject})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 5 {
		t.Fatalf("found %d of the 5 expected S1 lines", len(out))
	}
	return out
}

func newHandler(t *testing.T, srv *natstest.Server) *Handler {
	t.Helper()
	cfg := DefaultServiceConfig("")
	return &Handler{
		JS:           srv.JS,
		Service:      "dcingest",
		Parse:        ParseWindows,
		Subject:      func(ev *adjoinv1.Event) string { return EventSubject(natsx.SubjectDCEvents, ev) },
		Log:          zaptest.NewLogger(t),
		MaxLines:     cfg.MaxLines,
		MaxClockSkew: cfg.MaxClockSkew,
	}
}

type postOpts struct {
	query   string
	gzip    bool
	rawGzip []byte // sent as is with Content-Encoding: gzip
	method  string
}

// post sends body to h over a real HTTP server and decodes the answer.
func post(t *testing.T, h http.Handler, body string, o postOpts) (int, Response) {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	var rd io.Reader = strings.NewReader(body)
	switch {
	case o.rawGzip != nil:
		rd = bytes.NewReader(o.rawGzip)
	case o.gzip:
		rd = bytes.NewReader(gzipped(t, body))
	}
	method := o.method
	if method == "" {
		method = http.MethodPost
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+"/v1/events"+o.query, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if o.gzip || o.rawGzip != nil {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("response Content-Type = %q, want application/json", ct)
	}
	var resp Response
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return res.StatusCode, resp
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// storedMsgs returns every message of a stream, oldest first.
func storedMsgs(t *testing.T, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get %s seq %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

func rejectedLines(rs []Rejected) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d:%s", r.Line, r.Reason))
	}
	return out
}

func TestHandlerRealLines(t *testing.T) {
	t.Parallel()
	lines := s1Lines(t)
	srv := natstest.Start(t)
	h := newHandler(t, srv)

	var body strings.Builder
	for _, l := range lines {
		body.WriteString(l.raw + "\n")
	}
	status, resp := post(t, h, body.String(), postOpts{})
	if status != http.StatusOK || resp.Accepted != len(lines) || resp.Duplicates != 0 || len(resp.Rejected) != 0 || resp.Error != "" {
		t.Fatalf("first post = %d %+v, want 200 with %d accepted", status, resp, len(lines))
	}

	msgs := storedMsgs(t, srv.JS, natsx.StreamDCEvents)
	if len(msgs) != len(lines) {
		t.Fatalf("DC_EVENTS holds %d messages, want %d", len(msgs), len(lines))
	}
	origin := regexp.MustCompile(`^http:127\.0\.0\.1:\d+ line (\d+)$`)
	for i, m := range msgs {
		if m.Subject != lines[i].subject {
			t.Errorf("message %d on %s, want %s", i, m.Subject, lines[i].subject)
		}
		var ev adjoinv1.Event
		if err := natsx.Decode(m.Header, m.Data, &ev); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := entity.HashID(lines[i].raw); ev.GetId() != want || m.Header.Get(jetstream.MsgIDHeader) != want {
			t.Errorf("message %d id %q, Nats-Msg-Id %q; want both %q", i, ev.GetId(), m.Header.Get(jetstream.MsgIDHeader), want)
		}
		if got := origin.FindStringSubmatch(ev.GetOrigin()); got == nil || got[1] != fmt.Sprint(i+1) {
			t.Errorf("message %d origin %q, want http:<addr> line %d", i, ev.GetOrigin(), i+1)
		}
		if ev.GetFormat() != "winevent-nxlog" || ev.GetHost() == "" || ev.GetTime() == nil {
			t.Errorf("message %d = format %q host %q time %v", i, ev.GetFormat(), ev.GetHost(), ev.GetTime())
		}
	}
	// The first DCSync replication request: pgustavo on MORDORDC.
	i := slices.IndexFunc(msgs, func(m *jetstream.RawStreamMsg) bool { return m.Subject == "events.dc.security.4662" })
	var ev adjoinv1.Event
	if err := natsx.Decode(msgs[i].Header, msgs[i].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetFields()["SubjectUserName"] != "pgustavo" || ev.GetHost() != "MORDORDC.theshire.local" ||
		ev.GetFields()["SubjectUserSid"] != "S-1-5-21-3669966080-2286457517-972388166-1104" {
		t.Errorf("first 4662 = %v, want pgustavo (…-1104) on MORDORDC", &ev)
	}

	// Reposting the same lines, gzipped and with CRLF line ends this time, stores nothing new.
	crlf := strings.ReplaceAll(body.String(), "\n", "\r\n")
	status, resp = post(t, h, crlf, postOpts{gzip: true})
	if status != http.StatusOK || resp.Accepted != len(lines) || resp.Duplicates != len(lines) {
		t.Fatalf("repost = %d %+v, want 200 with duplicates == accepted == %d", status, resp, len(lines))
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDCEvents)); n != len(lines) {
		t.Errorf("DC_EVENTS holds %d messages after the repost, want %d", n, len(lines))
	}
}

func TestHandlerBadLines(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	body := strings.Join([]string{
		lineMinimalNXLog,  // 1
		"",                // 2 blank: skipped, still counted
		lineNotJSON,       // 3
		"   ",             // 4 blank
		lineNoEventID,     // 5
		lineArray,         // 6
		lineMinimalNXLog2, // 7
	}, "\n") + "\n"

	status, resp := post(t, h, body, postOpts{})
	if status != http.StatusOK || resp.Accepted != 2 {
		t.Fatalf("post = %d %+v, want 200 with 2 accepted", status, resp)
	}
	wantRejected := []string{"3:not-json", "5:missing-field", "6:not-object"}
	if got := rejectedLines(resp.Rejected); !slices.Equal(got, wantRejected) {
		t.Fatalf("rejected = %q, want %q", got, wantRejected)
	}
	if !strings.Contains(resp.Rejected[1].Error, "EventID") {
		t.Errorf("missing-field error %q does not name EventID", resp.Rejected[1].Error)
	}
	if resp.Hint != ndjsonHint {
		t.Errorf("hint = %q after lines refused as not JSON objects, want the NDJSON hint", resp.Hint)
	}
	if status, resp := post(t, h, lineMinimalNXLog+"\n", postOpts{}); status != http.StatusOK || resp.Hint != "" {
		t.Errorf("clean post = %d with hint %q, want 200 without one", status, resp.Hint)
	}

	if n := len(storedMsgs(t, srv.JS, natsx.StreamDCEvents)); n != 2 {
		t.Errorf("DC_EVENTS holds %d messages, want 2", n)
	}
	dl := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dl) != 3 {
		t.Fatalf("DEADLETTER holds %d messages, want 3", len(dl))
	}
	wantRaw := []string{lineNotJSON, lineNoEventID, lineArray}
	for i, m := range dl {
		r := resp.Rejected[i]
		if want := "deadletter.dcingest." + r.Reason; m.Subject != want {
			t.Errorf("dead letter %d on %s, want %s", i, m.Subject, want)
		}
		if string(m.Data) != wantRaw[i] {
			t.Errorf("dead letter %d data %q, want the raw line %q", i, m.Data, wantRaw[i])
		}
		if got := m.Header.Get(natsx.HeaderError); got != r.Error || got == "" {
			t.Errorf("dead letter %d %s = %q, want %q", i, natsx.HeaderError, got, r.Error)
		}
		if got := m.Header.Get(natsx.HeaderOrigin); !strings.HasPrefix(got, "http:127.0.0.1:") || !strings.HasSuffix(got, fmt.Sprintf(" line %d", r.Line)) {
			t.Errorf("dead letter %d %s = %q, want http:<addr> line %d", i, natsx.HeaderOrigin, got, r.Line)
		}
	}

	// Reposting: the dead-letter copies are deduplicated too, and only the accepted events
	// count as duplicates.
	status, resp = post(t, h, body, postOpts{})
	if status != http.StatusOK || resp.Accepted != 2 || resp.Duplicates != 2 || len(resp.Rejected) != 3 {
		t.Fatalf("repost = %d %+v, want 200, 2 accepted, 2 duplicates, 3 rejected", status, resp)
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDeadLetter)); n != 3 {
		t.Errorf("DEADLETTER holds %d messages after the repost, want 3", n)
	}
}

func TestHandlerLineTooLong(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	h.MaxLineBytes = 200
	overlong := `{"EventID":4662,"Channel":"Security","Message":"` + strings.Repeat("A", 300) + `"}`
	overlong2 := strings.Repeat("B", 70<<10) // longer than the read buffer too
	body := lineMinimalNXLog + "\n" + overlong + "\n" + lineMinimalNXLog2 + "\n" + overlong2 + "\r\n"

	status, resp := post(t, h, body, postOpts{})
	if status != http.StatusOK || resp.Accepted != 2 || resp.Duplicates != 0 {
		t.Fatalf("post = %d %+v, want 200, 2 accepted, no duplicates", status, resp)
	}
	if got, want := rejectedLines(resp.Rejected), []string{"2:too-long", "4:too-long"}; !slices.Equal(got, want) {
		t.Fatalf("rejected = %q, want %q", got, want)
	}
	if !strings.Contains(resp.Rejected[0].Error, "200") {
		t.Errorf("too-long error %q does not give the limit", resp.Rejected[0].Error)
	}
	// Each overlong line gets its own dead-letter copy, with its first 4 KiB (all of a line
	// shorter than that).
	dl := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dl) != 2 {
		t.Fatalf("DEADLETTER holds %d messages, want 2", len(dl))
	}
	for i, m := range dl {
		want := []string{overlong, overlong2[:4<<10]}[i]
		if m.Subject != "deadletter.dcingest.too-long" || string(m.Data) != want {
			t.Errorf("dead letter %d on %s with %d bytes %.20q..., want the %d bytes of %.20q...", i, m.Subject, len(m.Data), m.Data, len(want), want)
		}
		if got, want := m.Header.Get(natsx.HeaderOrigin), fmt.Sprintf(" line %d", resp.Rejected[i].Line); !strings.HasSuffix(got, want) {
			t.Errorf("dead letter %d origin %q, want suffix %q", i, got, want)
		}
	}

	// Resending the batch stores no new dead letters and counts only the events as duplicates.
	status, resp = post(t, h, body, postOpts{})
	if status != http.StatusOK || resp.Accepted != 2 || resp.Duplicates != 2 {
		t.Fatalf("repost = %d %+v, want 200, 2 accepted, 2 duplicates", status, resp)
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDeadLetter)); n != 2 {
		t.Errorf("DEADLETTER holds %d messages after the repost, want 2", n)
	}
}

func TestHandlerStatus(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	good := lineMinimalNXLog + "\n" + lineMinimalNXLog2 + "\n"

	truncated := gzipped(t, good)
	truncated = truncated[:len(truncated)-12]

	tests := []struct {
		name         string
		body         string
		opts         postOpts
		maxBody      int64
		want         int
		wantAccepted int // -1: not checked
		wantRejected []string
		wantError    string // substring of Response.Error, "" for none
	}{
		{name: "empty body", body: "", want: http.StatusUnprocessableEntity, wantError: "no events in body"},
		{name: "only blank lines", body: "\n\r\n  \n", want: http.StatusUnprocessableEntity, wantError: "no events in body"},
		{name: "no final newline", body: strings.TrimSuffix(good, "\n"), want: http.StatusOK, wantAccepted: 2},
		{name: "CRLF", body: strings.ReplaceAll(good, "\n", "\r\n"), want: http.StatusOK, wantAccepted: 2},
		{name: "gzip", body: good, opts: postOpts{gzip: true}, want: http.StatusOK, wantAccepted: 2},
		{
			name: "all lines bad", body: lineNotJSON + "\n" + lineArray + "\n",
			want: http.StatusUnprocessableEntity, wantRejected: []string{"1:not-json", "2:not-object"},
		},
		{
			name: "wrong format", body: lineMinimalNXLog + "\n", opts: postOpts{query: "?format=evtx"},
			want: http.StatusUnprocessableEntity, wantRejected: []string{"1:wrong-format"},
		},
		{name: "right format", body: lineMinimalNXLog + "\n", opts: postOpts{query: "?format=nxlog"}, want: http.StatusOK, wantAccepted: 1},
		{name: "GET", body: "", opts: postOpts{method: http.MethodGet}, want: http.StatusMethodNotAllowed, wantError: "POST"},
		{name: "PUT", body: good, opts: postOpts{method: http.MethodPut}, want: http.StatusMethodNotAllowed, wantError: "POST"},
		{name: "not gzip", body: "", opts: postOpts{rawGzip: []byte(good)}, want: http.StatusBadRequest, wantError: "gzip"},
		{name: "truncated gzip", body: "", opts: postOpts{rawGzip: truncated}, want: http.StatusBadRequest, wantAccepted: -1, wantError: "reading body"},
		{
			name: "body over the limit", body: good, maxBody: int64(len(lineMinimalNXLog) + 10),
			want: http.StatusRequestEntityTooLarge, wantAccepted: 1, wantError: "after line 1",
		},
		{
			name: "body over the limit after decompression", body: good, opts: postOpts{gzip: true}, maxBody: int64(len(good) - 1),
			want: http.StatusRequestEntityTooLarge, wantAccepted: 1, wantError: "too large",
		},
		{name: "body exactly at the limit", body: good, maxBody: int64(len(good)), want: http.StatusOK, wantAccepted: 2},
		{name: "gzip body exactly at the limit", body: good, opts: postOpts{gzip: true}, maxBody: int64(len(good)), want: http.StatusOK, wantAccepted: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(t, srv)
			h.MaxBodyBytes = tt.maxBody
			status, resp := post(t, h, tt.body, tt.opts)
			if status != tt.want {
				t.Fatalf("status = %d, want %d (%+v)", status, tt.want, resp)
			}
			if tt.wantAccepted >= 0 && resp.Accepted != tt.wantAccepted {
				t.Errorf("accepted = %d, want %d", resp.Accepted, tt.wantAccepted)
			}
			if got := rejectedLines(resp.Rejected); !slices.Equal(got, tt.wantRejected) {
				t.Errorf("rejected = %q, want %q", got, tt.wantRejected)
			}
			if (tt.wantError == "") != (resp.Error == "") || !strings.Contains(resp.Error, tt.wantError) {
				t.Errorf("error = %q, want one containing %q", resp.Error, tt.wantError)
			}
		})
	}
}

func TestHandlerFlushesInBatches(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	h.Flush = 2
	var body strings.Builder
	for i := range 7 {
		fmt.Fprintf(&body, `{"EventID":4624,"Channel":"Security","Hostname":"WORKSTATION5.theshire.local","EventTime":"2020-08-05 02:10:%02d"}`+"\n", i)
	}
	body.WriteString(lineNotJSON + "\n")
	status, resp := post(t, h, body.String(), postOpts{})
	if status != http.StatusOK || resp.Accepted != 7 || len(resp.Rejected) != 1 {
		t.Fatalf("post = %d %+v, want 200 with 7 accepted, 1 rejected", status, resp)
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDCEvents)); n != 7 {
		t.Errorf("DC_EVENTS holds %d messages, want 7", n)
	}
}

func TestIngest(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := h.Ingest(ctx, strings.NewReader(lineMinimalNXLog+"\n"+lineArray+"\n"), "", "file:replay.ndjson")
	if err != nil || resp.Accepted != 1 || len(resp.Rejected) != 1 {
		t.Fatalf("Ingest = %+v, %v; want 1 accepted, 1 rejected, no error", resp, err)
	}
	// A batch where every line is refused is an answer, not a failure of Ingest.
	if resp, err := h.Ingest(ctx, strings.NewReader(lineNotJSON), "", "file:bad"); err != nil || len(resp.Rejected) != 1 {
		t.Fatalf("Ingest of bad lines = %+v, %v; want 1 rejected, no error", resp, err)
	}
	dl := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dl) != 2 || dl[0].Header.Get(natsx.HeaderOrigin) != "file:replay.ndjson line 2" {
		t.Errorf("dead letters = %d, first origin %q", len(dl), dl[0].Header.Get(natsx.HeaderOrigin))
	}
	// A failing reader is an error the caller must act on, with the lines before it stored.
	r := io.MultiReader(strings.NewReader(lineMinimalNXLog2+"\n"), iotest.ErrReader(errors.New("disk on fire")))
	resp, err = h.Ingest(ctx, r, "", "file:broken")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || resp.Accepted != 1 {
		t.Errorf("Ingest of a failing reader = %+v, %v; want 1 accepted and the read error", resp, err)
	}
}

// With JetStream gone the sender must not get 2xx: nothing may be lost silently.
func TestHandlerJetStreamUnavailable(t *testing.T) {
	t.Parallel()
	body := lineMinimalNXLog + "\n" + lineMinimalNXLog2 + "\n"

	t.Run("connection closed", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		h := newHandler(t, srv)
		srv.NC.Close()
		status, resp := post(t, h, body, postOpts{})
		if status != http.StatusServiceUnavailable || !strings.Contains(resp.Error, "retry") {
			t.Fatalf("post = %d %+v, want 503 asking to retry", status, resp)
		}
	})

	t.Run("server down, client reconnecting", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		h := newHandler(t, srv)
		srv.Shutdown()
		srv.WaitForShutdown()
		// The handler waits for acknowledgements up to 30 s per flush, bounded by the request's
		// context. The client fails pending acknowledgements as soon as it sees the
		// disconnection, so the answer comes at once; the deadline only guards the test.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/events", strings.NewReader(body))
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("handler took %s with a 2s request deadline", d)
		}
		var resp Response
		if err := json.NewDecoder(rec.Body).Decode(&resp); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(resp.Error, "retry") {
			t.Fatalf("post = %d %+v, want 503 asking to retry", rec.Code, resp)
		}
	})

	t.Run("acknowledgement never comes", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		h := newHandler(t, srv)
		h.JS = silentJS{srv.JS}
		// Without a request deadline this would wait the full 30 s of a flush.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/events", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp Response
		if err := json.NewDecoder(rec.Body).Decode(&resp); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(resp.Error, "retry") ||
			!strings.Contains(resp.Error, context.DeadlineExceeded.Error()) {
			t.Fatalf("post = %d %+v, want 503 asking to retry after the deadline", rec.Code, resp)
		}
	})

	t.Run("stream missing", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		h := newHandler(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.JS.DeleteStream(ctx, natsx.StreamDCEvents); err != nil {
			t.Fatal(err)
		}
		status, resp := post(t, h, body, postOpts{})
		if status != http.StatusServiceUnavailable || !strings.Contains(resp.Error, "retry") || !strings.Contains(resp.Error, "events.dc.security.4624") {
			t.Fatalf("post = %d %+v, want 503 asking to retry, naming the subject", status, resp)
		}
	})
}

// silentJS is a JetStream whose asynchronous publishes are never acknowledged, as when the
// server accepted the connection but its storage stalls.
type silentJS struct{ jetstream.JetStream }

func (silentJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return silentFuture{m}, nil
}

type silentFuture struct{ m *nats.Msg }

func (silentFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (silentFuture) Err() <-chan error            { return nil }
func (f silentFuture) Msg() *nats.Msg             { return f.m }
