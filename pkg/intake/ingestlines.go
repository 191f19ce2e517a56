package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// IngestLines publishes lines the caller already split (a tailed file, a batch of syslog
// messages) by the rules of the HTTP door: each is parsed with h.Parse and published, a
// refused line is dead-lettered and reported in the Response, a line longer than MaxLineBytes
// is refused as too-long, and blank lines are skipped. Line i has origin "<origin> line i"
// (1-based). It returns once JetStream acknowledged every publish; an error means the lines
// were not all stored and must be sent again (what was stored is deduplicated).
func (h *Handler) IngestLines(ctx context.Context, lines [][]byte, format, origin string) (Response, error) {
	items := make([]lineItem, len(lines))
	for i, l := range lines {
		items[i] = lineItem{raw: l, origin: origin + " line " + strconv.Itoa(i+1)}
	}
	return h.ingestItems(ctx, items, format)
}

// lineItem is one input line with where it came from and, when it needs one, its own parser.
type lineItem struct {
	raw    []byte
	origin string
	parse  Parser // nil: h.Parse
	// tooLong, when above 0, is the size of a line refused before it got here (an oversized
	// syslog message); raw then holds its first bytes.
	tooLong int
}

// headKept bounds the part of an overlong line kept in its dead-letter copy.
const headKept = 4 << 10

// ingestItems is IngestLines with a parser and an origin per line. It follows ingest in
// handler.go: events and dead-letter copies are waited for together, every Flush lines and at
// the end, and only acknowledged work is counted in the metrics.
func (h *Handler) ingestItems(ctx context.Context, items []lineItem, format string) (Response, error) {
	resp := Response{Rejected: []Rejected{}}
	maxLine, flush := h.MaxLineBytes, h.Flush
	if maxLine <= 0 {
		maxLine = defaultMaxLine
	}
	if flush <= 0 {
		flush = 4096
	}
	batch, dead := natsx.NewBatch(h.JS), natsx.NewBatch(h.JS)
	var counts tally
	wait := func() error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := dead.Wait(ctx); err != nil {
			return err
		}
		dups, err := batch.Wait(ctx)
		resp.Duplicates += dups
		if err == nil {
			counts.flush(h.Metrics, h.Service, time.Since(start))
		}
		return err
	}
	failed := func(err error) (Response, error) {
		r, _ := h.fail(resp, err)
		return r, err
	}
	parser := *h // a copy whose Parse is the line's own parser
	for i, it := range items {
		line := i + 1
		if it.tooLong == 0 && len(it.raw) > maxLine {
			it.tooLong, it.raw = len(it.raw), it.raw[:min(headKept, len(it.raw))]
		}
		if it.tooLong > 0 {
			err := fmt.Errorf("%w: %d bytes, over the limit; first %d kept", errLineTooLong, it.tooLong, len(it.raw))
			dl := natsx.DeadLetterMsg(h.Service, "too-long", it.raw, err.Error(), it.origin)
			// Only the head is kept, so the size joins it in the deduplication id.
			dl.Header.Set(jetstream.MsgIDHeader, natsx.HashID("dl", h.Service, "too-long", strconv.Itoa(it.tooLong), string(it.raw)))
			if dlErr := dead.Add(dl); dlErr != nil {
				return failed(dlErr)
			}
			counts.reject("too-long")
			resp.Rejected = append(resp.Rejected, Rejected{Line: line, Reason: "too-long", Error: err.Error()})
			continue
		}
		if len(bytes.TrimSpace(it.raw)) == 0 {
			continue
		}
		parser.Parse = h.Parse
		if it.parse != nil {
			parser.Parse = it.parse
		}
		evFormat, err := parser.publishLine(batch, dead, it.raw, format, it.origin)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				return failed(err)
			}
			counts.reject(le.Reason)
			resp.Rejected = append(resp.Rejected, Rejected{Line: line, Reason: le.Reason, Error: le.Err.Error()})
			continue
		}
		counts.accept(evFormat)
		resp.Accepted++
		if batch.Len() >= flush {
			if err := wait(); err != nil {
				return failed(err)
			}
		}
	}
	if err := wait(); err != nil {
		return failed(err)
	}
	if len(resp.Rejected) > 0 {
		origin := ""
		if len(items) > 0 {
			origin = items[0].origin
		}
		h.Log.Info("rejected input lines", zap.Int("rejected", len(resp.Rejected)), zap.Int("accepted", resp.Accepted),
			zap.String("origin", origin))
	}
	return resp, nil
}
