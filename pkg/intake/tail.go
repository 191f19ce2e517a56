package intake

import (
	"bytes"
	"context"
	"fmt"

	"github.com/adjoin/adjoin/pkg/tail"
)

// TailHandler stores the lines a tail.Tailer reads through h, so tailed files take the same
// path as HTTP batches (parse, publish, dead-letter); it fails, and the tailer keeps its offset,
// unless JetStream acknowledged every line.
func TailHandler(h *Handler, format string) tail.Handler {
	return func(ctx context.Context, src tail.Source, lines [][]byte, first int) error {
		body := bytes.Join(lines, []byte{'\n'})
		_, err := h.Ingest(ctx, bytes.NewReader(body), format, fmt.Sprintf("file:%s from line %d after the offset", src.Path, first))
		return err
	}
}
