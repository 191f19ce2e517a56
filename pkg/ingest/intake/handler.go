package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/jsonvalue"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// LineError is a refused line: Reason is a short token used in the dead-letter subject
// ("not-json", "missing-field"), Err the full explanation.
type LineError struct {
	Reason string
	Err    error
}

func (e *LineError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// refused is the LineError of a line a parser refused, its reason named by the cause:
// not-json, not-object (the parsers' shared jsonvalue errors), missing-field (the parser's own
// errMissingField), else invalid.
func refused(err, errMissingField error) *LineError {
	reason := "invalid"
	switch {
	case errors.Is(err, jsonvalue.ErrNotJSON):
		reason = "not-json"
	case errors.Is(err, jsonvalue.ErrNotObject):
		reason = "not-object"
	case errors.Is(err, errMissingField):
		reason = "missing-field"
	}
	return &LineError{Reason: reason, Err: err}
}

// Parser turns one line into an event. format is the sender's ?format= value ("" = detect).
// Errors should be *LineError; any other error is reported with reason "invalid". A parser
// returns ErrSkip for a line that carries no event by design (a log's own messages around the
// events it holds): such a line is counted as skipped, neither published nor dead-lettered.
type Parser func(line []byte, format string) (*adjoinv1.Event, error)

// ErrSkip is what a Parser returns (or wraps) for a line that is not an event and not an error.
var ErrSkip = errors.New("line skipped: not an event")

// RequestParser chooses the parser of a whole request from its query, for a ?format= whose
// lines need more than themselves to be read (a Samba log needs the DC's name: &host=).
// An error is the sender's: the request is refused with 400 and the error.
type RequestParser func(q url.Values) (Parser, error)

// Handler serves POST /v1/events.
type Handler struct {
	JS      jetstream.JetStream
	Service string                       // service name used in dead-letter subjects
	Parse   Parser                       // line parser
	Subject func(*adjoinv1.Event) string // subject to publish an event on
	Log     *zap.Logger
	// MaxBodyBytes bounds a request body after decompression (default 256 MiB).
	MaxBodyBytes int64
	// MaxLineBytes bounds one line (default 512 KiB, so that the stored event stays under the
	// NATS payload limit of 1 MiB).
	MaxLineBytes int
	// Flush publishes at most this many lines before waiting for acknowledgements (default 4096).
	Flush int
	// MaxLines bounds the lines of one HTTP body, blank ones included (ServiceConfig's
	// --max-lines; required), so that a small gzip body of newlines cannot cost minutes of
	// work: past it the lines read are stored and the request answers 413. Ingest (files,
	// replays) has no such bound.
	MaxLines int
	// Metrics, when set, counts events, rejections and publish latency.
	Metrics *metrics.Metrics
	// Formats are the ?format= values read with a parser of their own, chosen per request.
	Formats map[string]RequestParser
	// MaxClockSkew is how far ahead of the receive time an event may be dated (ServiceConfig's
	// --max-clock-skew; required); see limits.go for every limit on an event.
	MaxClockSkew time.Duration
}

// Rejected describes one refused line in a response.
type Rejected struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// Response is the JSON body of every answer. Its size is bounded whatever the body held: it
// lists the first MaxRejectedListed refused lines and counts all of them.
type Response struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"already_stored"` // accepted lines that were stored before (re-sending is safe)
	// Skipped counts lines that carry no event by design (ErrSkip), such as a Samba log's own
	// messages.
	Skipped int `json:"skipped,omitempty"`
	// Rejected lists the first MaxRejectedListed refused lines, in order.
	Rejected []Rejected `json:"rejected"`
	// RejectedTotal counts every refused line, RejectedByReason per reason; both are left out
	// when nothing was refused.
	RejectedTotal    int            `json:"rejected_total,omitempty"`
	RejectedByReason map[string]int `json:"rejected_by_reason,omitempty"`
	// RejectedTruncated says Rejected lists only the first of the refused lines.
	RejectedTruncated bool   `json:"rejected_truncated,omitempty"`
	Error             string `json:"error,omitempty"`
	// Hint says what the intake expects when lines were refused as not JSON objects: most
	// often a pretty-printed file, a JSON array, or a body sent with curl -d (newlines dropped).
	Hint string `json:"hint,omitempty"`
}

// ndjsonHint is the Hint of an answer that refused lines as not JSON objects.
const ndjsonHint = "the body is NDJSON: one JSON object per line, not an array or pretty-printed JSON; " +
	"send a file with curl --data-binary @file (curl -d drops the newlines)"

// MaxRejectedListed bounds the refused lines an answer lists (each one's error cut to
// maxErrorText bytes), so that an answer stays small (under 64 KiB) whatever the body held.
const MaxRejectedListed = 100

// maxErrorText bounds the error of one listed refused line: a refusal may quote its input.
const maxErrorText = 256

// defaultMaxLines is the default of --max-lines, the lines of one HTTP body.
const defaultMaxLines = 1_000_000

// errNoEvents answers a body without a single line to read: most likely a client that sent
// the file name, or a form, instead of the file.
const errNoEvents = "no events in body: send NDJSON, one event per line (curl --data-binary @file)"

// defaultMaxLine bounds a line so that the event it becomes stays under NATS's 1 MiB payload.
const defaultMaxLine = 512 << 10

// ServeHTTP implements the intake contract described in the package comment.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, Response{Error: "use POST with an NDJSON body"})
		return
	}
	if h.MaxLines <= 0 || h.MaxClockSkew <= 0 { // built by hand without its settings: never guess a bound
		httpx.WriteJSON(w, http.StatusInternalServerError, Response{Error: fmt.Sprintf(
			"intake handler: max-lines %d and max-clock-skew %s must be set (start from DefaultServiceConfig)", h.MaxLines, h.MaxClockSkew)})
		return
	}
	body, err := h.body(r)
	if err != nil {
		httpx.WriteJSON(w, http.StatusBadRequest, Response{Error: err.Error()})
		return
	}
	origin := "http:" + r.RemoteAddr
	q := r.URL.Query()
	format := q.Get("format")
	var parse Parser
	if choose, ok := h.Formats[format]; ok {
		if parse, err = choose(q); err != nil {
			httpx.WriteJSON(w, http.StatusBadRequest, Response{Error: "format=" + format + ": " + err.Error()})
			return
		}
	}
	resp, status := h.ingest(r.Context(), body, format, origin, parse, h.MaxLines)
	if status == http.StatusOK && resp.Accepted+resp.RejectedTotal+resp.Skipped == 0 {
		resp.Error, status = errNoEvents, http.StatusUnprocessableEntity
	}
	if resp.RejectedByReason["not-json"]+resp.RejectedByReason["not-object"] > 0 {
		resp.Hint = ndjsonHint
	}
	httpx.WriteJSON(w, status, resp)
}

func (h *Handler) body(r *http.Request) (io.Reader, error) {
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 256 << 20
	}
	var body io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("Content-Encoding gzip: %w", err)
		}
		body = gz
	}
	return &limitReader{r: body, left: limit}, nil
}

// errBodyTooLarge stops a body past MaxBodyBytes (counted after decompression).
var errBodyTooLarge = errors.New("request body too large")

type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// At the limit the body is too large only if more of it follows: a body of exactly
		// the limit whose reader reports the end on a later call is whole.
		var probe [1]byte
		n, err := l.r.Read(probe[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// Ingest reads NDJSON from body and publishes every valid line; the CLI replay path uses it too.
func (h *Handler) Ingest(ctx context.Context, body io.Reader, format, origin string) (Response, error) {
	resp, status := h.ingest(ctx, body, format, origin, nil, 0)
	if status >= 500 || (status >= 400 && resp.Error != "") {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// ingest reads body line by line; parse, when not nil, reads every line instead of h.Parse.
// maxLines, when above 0, bounds the lines read (blank ones included).
func (h *Handler) ingest(ctx context.Context, body io.Reader, format, origin string, parse Parser, maxLines int) (Response, int) {
	r := h.newRun(ctx, format)
	lr := newLineReader(body, r.maxLine)
	for {
		raw, line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			// Lines read so far are stored below, but the sender must resend: say so.
			if werr := r.wait(); werr != nil {
				return h.fail(r.resp, werr)
			}
			r.resp.Error = fmt.Sprintf("reading body after line %d: %v; lines up to there are stored", line, err)
			if errors.Is(err, errBodyTooLarge) {
				return r.resp, http.StatusRequestEntityTooLarge
			}
			return r.resp, http.StatusBadRequest
		}
		if maxLines > 0 && line > maxLines {
			if werr := r.wait(); werr != nil {
				return h.fail(r.resp, werr)
			}
			h.Log.Info("body over the line limit", zap.Int("max_lines", maxLines), zap.String("origin", origin))
			r.resp.Error = fmt.Sprintf("body has more than %d lines (the limit, --max-lines); lines up to %d are stored, send the rest in another request",
				maxLines, maxLines)
			return r.resp, http.StatusRequestEntityTooLarge
		}
		if err == nil && len(bytes.TrimSpace(raw)) == 0 {
			continue // blank: no work, not even its origin
		}
		it := lineItem{raw: raw, origin: origin + " line " + strconv.Itoa(line), parse: parse}
		if err != nil {
			// Only the line's head is kept, so its digest stands for it in the deduplication id.
			it = lineItem{raw: lr.head, origin: it.origin, tooLong: r.maxLine + 1, digest: lr.skipped, tooLongErr: err}
		}
		if err := r.add(it, line); err != nil {
			return h.fail(r.resp, err)
		}
	}
	if err := r.wait(); err != nil {
		return h.fail(r.resp, err)
	}
	resp := r.resp
	r.logRejected(origin)
	if resp.Accepted == 0 && resp.RejectedTotal > 0 {
		return resp, http.StatusUnprocessableEntity
	}
	return resp, http.StatusOK
}

// publishLine parses one line and queues either the event on batch or its dead-letter copy on
// dead.
func (h *Handler) publishLine(batch, dead *natsx.Batch, raw []byte, format, origin string) (string, error) {
	ev, err := h.Parse(raw, format)
	if err == nil {
		err = checkEvent(ev, time.Now(), h.MaxClockSkew) // limits.go: oversized fields, far-future times
	}
	if errors.Is(err, ErrSkip) {
		return "", ErrSkip
	}
	if err != nil {
		le, ok := err.(*LineError)
		if !ok {
			le = &LineError{Reason: "invalid", Err: err}
		}
		if dlErr := dead.Add(natsx.DeadLetterMsg(h.Service, le.Reason, raw, le.Err.Error(), origin)); dlErr != nil {
			return "", dlErr
		}
		return "", le
	}
	ev.Id = entity.HashID(string(raw))
	ev.Origin = origin
	msg, err := natsx.NewMsg(h.Subject(ev), ev.Id, ev)
	if err != nil {
		return "", err
	}
	return ev.GetFormat(), batch.Add(msg)
}

// tally holds the counts of a flush until JetStream acknowledged it, so the metrics count only
// what was stored.
type tally struct {
	accepted, rejected map[string]int
	skipped            int
}

func (t *tally) skip() { t.skipped++ }

func (t *tally) accept(format string) {
	if t.accepted == nil {
		t.accepted = map[string]int{}
	}
	t.accepted[format]++
}

func (t *tally) reject(reason string) {
	if t.rejected == nil {
		t.rejected = map[string]int{}
	}
	t.rejected[reason]++
}

func (t *tally) flush(m *metrics.Metrics, service string, took time.Duration) {
	if m != nil {
		for f, n := range t.accepted {
			m.EventsReceived.WithLabelValues(service, f).Add(float64(n))
		}
		for r, n := range t.rejected {
			m.EventsRejected.WithLabelValues(service, r).Add(float64(n))
			m.DeadLetters.WithLabelValues(service, r).Add(float64(n))
		}
		if t.skipped > 0 {
			m.LinesSkipped.WithLabelValues(service).Add(float64(t.skipped))
		}
		if len(t.accepted)+len(t.rejected) > 0 {
			m.PublishSeconds.WithLabelValues(service).Observe(took.Seconds())
		}
	}
	t.accepted, t.rejected, t.skipped = nil, nil, 0
}

func (h *Handler) fail(resp Response, err error) (Response, int) {
	h.Log.Error("intake batch failed; sender must retry", logx.Err(err))
	resp.Error = "not stored, retry the whole batch: " + err.Error()
	return resp, http.StatusServiceUnavailable
}
