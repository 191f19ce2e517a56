package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// maxAnswer bounds the answer to any body: MaxRejectedListed lines listed with errors of
// maxErrorText bytes at most, and the counts.
const maxAnswer = 64 << 10

// heapGrowth runs f and returns how far the Go heap in use grew above what it was before,
// sampled every few milliseconds: a peak, which a total of allocations would not show.
func heapGrowth(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		top := base
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapInuse)
			select {
			case <-stop:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	return <-peak - base
}

// postRaw sends body to url as is and returns the status and the raw answer (its first
// 256 MiB), or an error; it may run outside the test's goroutine.
func postRaw(url string, body []byte, gzipped bool) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	return res.StatusCode, answer, err
}

func decodeAnswer(t *testing.T, answer []byte) Response {
	t.Helper()
	var resp Response
	if err := json.Unmarshal(answer, &resp); err != nil {
		t.Fatalf("answer %.200q is not a Response: %v", answer, err)
	}
	return resp
}

// A 2 KB gzip body of a million refused lines once took the DC ingestor from 78 MB to 2.36 GB
// and answered 108 MB listing every line: the answer lists 100 and counts the rest, the
// copies go out (once: they are the same line) and are waited for as they go. Not parallel:
// it measures the heap of the whole process.
func TestHandlerMillionRejectedLines(t *testing.T) {
	const maxHeapGrowth = 64 << 20
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestCompression)
	if _, err := zw.Write(bytes.Repeat([]byte("x\n"), n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	var status int
	var answer []byte
	var err error
	grew := heapGrowth(func() { status, answer, err = postRaw(ts.URL, body.Bytes(), true) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines in a %d-byte gzip body: %d, answer %d bytes, heap grew %d KiB", n, body.Len(), status, len(answer), grew>>10)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d (%.300s), want 422", status, answer)
	}
	if len(answer) > maxAnswer {
		t.Errorf("answer has %d bytes, want at most %d", len(answer), maxAnswer)
	}
	if grew > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB taking the body, want at most %d MiB", grew>>20, maxHeapGrowth>>20)
	}
	resp := decodeAnswer(t, answer)
	if resp.Accepted != 0 || resp.RejectedTotal != n || len(resp.RejectedByReason) != 1 || resp.RejectedByReason["not-json"] != n ||
		len(resp.Rejected) != MaxRejectedListed || !resp.RejectedTruncated {
		t.Errorf("answer = accepted %d, rejected_total %d, by reason %v, %d listed, truncated %v; want %d not-json, %d listed, truncated",
			resp.Accepted, resp.RejectedTotal, resp.RejectedByReason, len(resp.Rejected), resp.RejectedTruncated, n, MaxRejectedListed)
	}
	for i, r := range resp.Rejected {
		if r.Line != i+1 || r.Reason != "not-json" || r.Error == "" {
			t.Fatalf("listed %d = %+v, want line %d, not-json, with its error", i, r, i+1)
		}
	}
	// Every refused line has its copy: one, since they are the same line.
	if dl := storedMsgs(t, srv.JS, natsx.StreamDeadLetter); len(dl) != 1 || string(dl[0].Data) != "x" {
		t.Errorf("DEADLETTER holds %d messages, want the one copy of line x", len(dl))
	}
}

// More than the async window (4,000) of distinct refused lines once answered 503, and made
// another sender's request on the same connection 503 too: their copies were never waited for
// along the way, so the window filled past the client's stall wait. Now the refused request
// answers 422 with every copy stored, and the good requests sent meanwhile are stored and
// answered 200: on a server syncing every write, as shipped (slow acknowledgements, where 5,000
// lines were enough to fail), and with 50,000 lines on a fast one.
func TestHandlerDistinctRejectedLinesLeaveOthersAlone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sync bool
		n    int
	}{
		{name: "every write synced", sync: true, n: 5_000},
		{name: "50,000 lines", n: 50_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := natstest.StartWith(t, natsx.EmbeddedOptions{SyncAlways: tt.sync})
			ts := httptest.NewServer(newHandler(t, srv))
			t.Cleanup(ts.Close)
			var bad bytes.Buffer
			for i := range tt.n {
				fmt.Fprintf(&bad, "refused line %d\n", i)
			}

			done := make(chan struct{})
			var badStatus int
			var badAnswer []byte
			var badErr error
			go func() {
				defer close(done)
				badStatus, badAnswer, badErr = postRaw(ts.URL, bad.Bytes(), false)
			}()
			// Good requests from another sender until the bad one is answered (one at least).
			good := 0
			for running := true; running; good++ {
				select {
				case <-done:
					running = false
				default:
				}
				line := fmt.Sprintf(`{"EventID":4624,"Channel":"Security","Hostname":"WORKSTATION5.theshire.local","EventTime":"2020-08-05 02:10:02","TargetUserName":"user%d"}`, good)
				status, answer, err := postRaw(ts.URL, []byte(line+"\n"), false)
				if err != nil {
					t.Fatal(err)
				}
				if resp := decodeAnswer(t, answer); status != http.StatusOK || resp.Accepted != 1 {
					t.Fatalf("good request %d during the bad one = %d %+v, want 200 with 1 accepted", good, status, resp)
				}
			}
			<-done
			if badErr != nil {
				t.Fatal(badErr)
			}
			if badStatus != http.StatusUnprocessableEntity || len(badAnswer) > maxAnswer {
				t.Fatalf("bad request = %d with %d bytes (%.300s), want 422 within %d bytes", badStatus, len(badAnswer), badAnswer, maxAnswer)
			}
			resp := decodeAnswer(t, badAnswer)
			if resp.RejectedTotal != tt.n || resp.RejectedByReason["not-json"] != tt.n || len(resp.Rejected) != MaxRejectedListed {
				t.Errorf("bad answer: rejected_total %d, by reason %v, %d listed; want %d not-json, %d listed",
					resp.RejectedTotal, resp.RejectedByReason, len(resp.Rejected), tt.n, MaxRejectedListed)
			}
			if got := streamLen(t, srv, natsx.StreamDeadLetter); got != uint64(tt.n) {
				t.Errorf("DEADLETTER holds %d copies, want %d: every refused line keeps its copy", got, tt.n)
			}
			if got := streamLen(t, srv, natsx.StreamDCEvents); got != uint64(good) {
				t.Errorf("DC_EVENTS holds %d events, want the %d good requests' lines", got, good)
			}
		})
	}
}

// streamLen is the number of messages a stream holds.
func streamLen(t *testing.T, srv *natstest.Server, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := srv.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestHandlerMaxLines(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	tests := []struct {
		name         string
		body         string
		gzip         bool
		max          int
		want         int
		wantAccepted int
		wantError    string
	}{
		{name: "at the limit", body: lineMinimalNXLog + "\n\n" + lineMinimalNXLog2 + "\n", max: 3, want: http.StatusOK, wantAccepted: 2},
		{name: "at the limit without a final newline", body: lineMinimalNXLog + "\n\n" + lineMinimalNXLog2, max: 3, want: http.StatusOK, wantAccepted: 2},
		{
			name: "blank lines count", body: lineMinimalNXLog + "\n\n\n" + lineMinimalNXLog2 + "\n", max: 3,
			want: http.StatusRequestEntityTooLarge, wantAccepted: 1, wantError: "more than 3 lines",
		},
		{
			name: "lines up to the limit are stored", body: lineMinimalNXLog + "\n" + lineNotJSON + "\n" + lineMinimalNXLog2 + "\n", max: 2,
			want: http.StatusRequestEntityTooLarge, wantAccepted: 1, wantError: "lines up to 2 are stored",
		},
		{
			name: "a million newlines, gzipped", body: strings.Repeat("\n", defaultMaxLines+1), gzip: true, max: defaultMaxLines,
			want: http.StatusRequestEntityTooLarge, wantError: fmt.Sprintf("more than %d lines", defaultMaxLines),
		},
		{name: "a million newlines is no event", body: strings.Repeat("\n", defaultMaxLines), gzip: true, max: defaultMaxLines, want: http.StatusUnprocessableEntity, wantError: "no events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(t, srv)
			h.MaxLines = tt.max
			status, resp := post(t, h, tt.body, postOpts{gzip: tt.gzip})
			if status != tt.want || resp.Accepted != tt.wantAccepted || !strings.Contains(resp.Error, tt.wantError) || (tt.wantError == "") != (resp.Error == "") {
				t.Errorf("post = %d %+v, want %d with %d accepted and an error containing %q", status, resp, tt.want, tt.wantAccepted, tt.wantError)
			}
		})
	}
}

// A refusal quoting its input (a ?format= of 8 KiB) is listed with its error cut short.
func TestHandlerRejectedErrorCut(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	format := strings.Repeat("f", 8<<10)
	status, resp := post(t, h, lineMinimalNXLog+"\n", postOpts{query: "?format=" + format})
	if status != http.StatusUnprocessableEntity || len(resp.Rejected) != 1 || resp.Rejected[0].Reason != "wrong-format" {
		t.Fatalf("post = %d %+v, want 422 with the line refused as wrong-format", status, resp)
	}
	if got := resp.Rejected[0].Error; len(got) > maxErrorText || !strings.HasSuffix(got, "…") {
		t.Errorf("error has %d bytes, want at most %d, marked as cut", len(got), maxErrorText)
	}
	dl := storedMsgs(t, srv.JS, natsx.StreamDeadLetter)
	if len(dl) != 1 || len(dl[0].Header.Get(natsx.HeaderError)) > natsx.MaxHeaderText {
		t.Errorf("DEADLETTER holds %d copies, want 1 with its error cut", len(dl))
	}
}
