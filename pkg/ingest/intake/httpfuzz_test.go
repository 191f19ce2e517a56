package intake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// Limits of the fuzzed handler, small so that short inputs reach them; a line may still be
// longer than NATS's control line (4 KiB), as subjects and keys built from it are bounded.
const (
	fuzzMaxLine  = 16 << 10
	fuzzMaxLines = 64
	fuzzMaxBody  = 256 << 10
)

// The ways a body is sent: its Content-Encoding, and whether the test gzips it first.
var fuzzEncodings = []struct {
	header string
	gzip   bool
}{
	{"", false}, {"gzip", true}, {"gzip", false}, {"GZIP", true}, {"br", false}, {"gzip, identity", false}, {"identity", false},
}

var (
	fuzzMethods      = []string{http.MethodPost, http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete}
	fuzzContentTypes = []string{"application/x-ndjson", "", "application/json", "text/plain; charset=utf-8", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"}
	// fuzzStatuses are the documented answers of POST /v1/events on a healthy JetStream: 503
	// is documented too, but would mean the intake failed a body it should have answered.
	fuzzStatuses = map[int]bool{http.StatusOK: true, http.StatusBadRequest: true, http.StatusMethodNotAllowed: true,
		http.StatusRequestEntityTooLarge: true, http.StatusUnprocessableEntity: true}
)

// FuzzHTTPIntake drives the whole HTTP door (ServeHTTP on a real JetStream) with any body,
// encoding, content type, query and method. Whatever comes: no panic; a documented status;
// a JSON answer within maxAnswer; refused lines listed and counted consistently; and for a
// body that decodes, every non-blank line up to the line limit is accepted, refused or
// skipped, exactly once, with the status that follows from those counts.
func FuzzHTTPIntake(f *testing.F) {
	srv := natstest.Start(f)
	h := &Handler{
		JS: srv.JS, Service: "dcingest", Parse: ParseAny, Log: zap.NewNop(),
		Subject:      func(ev *adjoinv1.Event) string { return EventSubject(natsx.SubjectDCEvents, ev) },
		MaxLineBytes: fuzzMaxLine, MaxLines: fuzzMaxLines, MaxBodyBytes: fuzzMaxBody, MaxClockSkew: DefaultMaxClockSkew,
		Formats: map[string]RequestParser{SambaFormat: func(q url.Values) (Parser, error) {
			if q.Get("host") == "" {
				return nil, errors.New("host= required")
			}
			return ParseSamba(q.Get("host")), nil
		}},
	}
	for i, body := range fuzzSeeds(f) {
		f.Add(body, uint8(i), uint8(0), uint8(0), "")
	}
	f.Add([]byte(lineMinimalNXLog+"\n"+lineNotJSON+"\n"), uint8(1), uint8(0), uint8(0), "format=nxlog")
	f.Add([]byte(lineMinimalNXLog+"\n"), uint8(0), uint8(0), uint8(0), "format=samba&host=dc1")
	f.Add([]byte(lineMinimalNXLog+"\n"), uint8(0), uint8(0), uint8(0), "format=samba")
	f.Add([]byte(strings.Repeat("x\n", fuzzMaxLines+1)), uint8(1), uint8(0), uint8(0), "")
	f.Add([]byte(strings.Repeat("\r\n", 10)), uint8(0), uint8(2), uint8(0), "format=%zz")
	f.Add([]byte("not gzip"), uint8(2), uint8(0), uint8(0), "")
	f.Add([]byte(""), uint8(0), uint8(0), uint8(3), "")

	f.Fuzz(func(t *testing.T, body []byte, enc, ctype, method uint8, query string) {
		e := fuzzEncodings[int(enc)%len(fuzzEncodings)]
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		sent := body
		if e.gzip {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			sent = b.Bytes()
		}
		req := httptest.NewRequest(m, "/v1/events", bytes.NewReader(sent))
		req.URL.RawQuery = query
		if e.header != "" {
			req.Header.Set("Content-Encoding", e.header)
		}
		if ct := fuzzContentTypes[int(ctype)%len(fuzzContentTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		// Bounded: a body that keeps the handler waiting is a finding, not a stuck fuzzer.
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		req = req.WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if ctx.Err() != nil {
			t.Fatalf("the handler was still busy after 10s: %d %.300s", rec.Code, rec.Body.Bytes())
		}

		answer := rec.Body.Bytes()
		if !fuzzStatuses[rec.Code] {
			t.Fatalf("status %d (%.300s)", rec.Code, answer)
		}
		if len(answer) > maxAnswer {
			t.Fatalf("answer of %d bytes, over %d", len(answer), maxAnswer)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("answer Content-Type %q", ct)
		}
		var resp Response
		dec := json.NewDecoder(bytes.NewReader(answer))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil {
			t.Fatalf("answer %.300q is not a Response: %v", answer, err)
		}
		checkRejected(t, resp)
		if resp.Duplicates > resp.Accepted {
			t.Fatalf("%d duplicates of %d accepted", resp.Duplicates, resp.Accepted)
		}
		if m != http.MethodPost {
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("%s answered %d, want 405", m, rec.Code)
			}
			return
		}

		// What the handler should have read: the body as decoded, when it decodes.
		data := body
		if strings.EqualFold(e.header, "gzip") && !e.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				data, err = io.ReadAll(io.LimitReader(zr, fuzzMaxBody+1))
			}
			if err != nil {
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("a body that does not gunzip (%v) answered %d %+v, want 400", err, rec.Code, resp)
				}
				return
			}
		}
		q := req.URL.Query()
		switch {
		case q.Get("format") == SambaFormat && q.Get("host") == "":
			if rec.Code != http.StatusBadRequest || resp.Error == "" {
				t.Fatalf("format=samba without host answered %d %+v, want 400", rec.Code, resp)
			}
			return
		case len(data) > fuzzMaxBody:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a body of %d bytes answered %d, want 413", len(data), rec.Code)
			}
			return
		}
		lines := expectLines(data, fuzzMaxLine)
		overLimit := len(lines) > fuzzMaxLines
		read := 0
		for _, l := range lines[:min(len(lines), fuzzMaxLines)] {
			if l.tooLong || len(bytes.TrimSpace([]byte(l.line))) > 0 {
				read++
			}
		}
		if got := resp.Accepted + resp.RejectedTotal + resp.Skipped; got != read {
			t.Fatalf("accepted %d + rejected %d + skipped %d = %d, want the %d non-blank lines read", resp.Accepted, resp.RejectedTotal, resp.Skipped, got, read)
		}
		want := http.StatusOK
		switch {
		case overLimit:
			want = http.StatusRequestEntityTooLarge
		case read == 0, resp.Accepted == 0 && resp.RejectedTotal > 0:
			want = http.StatusUnprocessableEntity
		}
		if rec.Code != want {
			t.Fatalf("answered %d %+v, want %d", rec.Code, resp, want)
		}
	})
}

// checkRejected checks that the refused lines listed agree with their counts.
func checkRejected(t *testing.T, resp Response) {
	t.Helper()
	sum := 0
	for reason, n := range resp.RejectedByReason {
		if !lineReasons[reason] && reason != "too-long" {
			t.Fatalf("unknown reason %q", reason)
		}
		sum += n
	}
	switch {
	case sum != resp.RejectedTotal:
		t.Fatalf("rejected_by_reason %v adds up to %d, rejected_total is %d", resp.RejectedByReason, sum, resp.RejectedTotal)
	case len(resp.Rejected) != min(resp.RejectedTotal, MaxRejectedListed):
		t.Fatalf("%d refused lines listed of %d", len(resp.Rejected), resp.RejectedTotal)
	case resp.RejectedTruncated != (resp.RejectedTotal > MaxRejectedListed):
		t.Fatalf("rejected_truncated %v with %d refused", resp.RejectedTruncated, resp.RejectedTotal)
	}
	for i, r := range resp.Rejected {
		if r.Line < 1 || (i > 0 && r.Line <= resp.Rejected[i-1].Line) || len(r.Error) > maxErrorText || r.Error == "" || resp.RejectedByReason[r.Reason] == 0 {
			t.Fatalf("listed refusal %d: %+v", i, r)
		}
	}
}

// fuzzSeeds are bodies of real lines: the first line of a few recordings of shared/data
// (short, so that minimizing an input derived from them stays quick).
func fuzzSeeds(f *testing.F) [][]byte {
	data := sharedData(f)
	var seeds [][]byte
	for _, name := range []string{
		s1File,
		"otrf/zeek/apt29_day1/NASHUA_kerberos.log",
		"evtx-to-mitre-attack/ndjson/ID4662-DCsync attack using Mimikatz.json",
	} {
		fh, err := os.Open(filepath.Join(data, filepath.FromSlash(name)))
		if err != nil {
			f.Fatal(err)
		}
		var body []byte
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 4<<20)
		for i := 0; i < 1 && sc.Scan(); i++ {
			body = append(append(body, sc.Bytes()...), '\n')
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, body)
	}
	return seeds
}
