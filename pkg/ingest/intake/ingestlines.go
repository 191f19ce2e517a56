package intake

import (
	"context"
	"strconv"
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
	// syslog message, an overlong HTTP line); raw then holds at most its first bytes.
	tooLong int
	// digest, when set, stands for the whole overlong line in its dead-letter id.
	digest string
	// tooLongErr, when set, is the reason given for an overlong line.
	tooLongErr error
}

// headKept bounds the part of an overlong line kept in its dead-letter copy.
const headKept = 4 << 10

// ingestItems is IngestLines with a parser and an origin per line.
func (h *Handler) ingestItems(ctx context.Context, items []lineItem, format string) (Response, error) {
	r := h.newRun(ctx, format)
	for i, it := range items {
		if err := r.add(it, i+1); err != nil {
			resp, _ := h.fail(r.resp, err)
			return resp, err
		}
	}
	if err := r.wait(); err != nil {
		resp, _ := h.fail(r.resp, err)
		return resp, err
	}
	if len(items) > 0 {
		r.logRejected(items[0].origin)
	}
	return r.resp, nil
}
