package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/adjoin/adjoin/pkg/ingest/tail"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// TailHandler stores the lines a tail.Tailer reads through h, so tailed files take the same
// path as HTTP batches (parse, publish, dead-letter); it fails, and the tailer keeps its offset,
// unless JetStream acknowledged every line. Zeek TSV files (a "#fields" header) are read with
// their header and each record goes on as the equivalent Zeek JSON line.
func TailHandler(h *Handler, format string) tail.Handler {
	return func(ctx context.Context, src tail.Source, lines [][]byte, first int) error {
		origin := fmt.Sprintf("file:%s from line %d after the offset", src.Path, first)
		if isZeekTSV(src.Header) {
			var err error
			if lines, err = zeekTSVAsJSON(ctx, h, src, lines, origin); err != nil {
				return err
			}
			format = zeek.Format
		}
		_, err := h.Ingest(ctx, bytes.NewReader(bytes.Join(lines, []byte{'\n'})), format, origin)
		return err
	}
}

func isZeekTSV(header [][]byte) bool {
	for _, l := range header {
		if bytes.HasPrefix(l, []byte("#fields")) {
			return true
		}
	}
	return false
}

// zeekTSVAsJSON turns TSV lines into Zeek JSON lines; a line the reader refuses is copied to
// DEADLETTER (and must be stored there before the offset moves).
func zeekTSVAsJSON(ctx context.Context, h *Handler, src tail.Source, lines [][]byte, origin string) ([][]byte, error) {
	input := append(append([][]byte(nil), src.Header...), lines...)
	r := zeek.NewTSVReader(bytes.NewReader(bytes.Join(input, []byte{'\n'})))
	dead := natsx.NewBatchContext(ctx, h.JS)
	var out [][]byte
	for {
		rec, line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			raw := []byte{}
			if i := line - len(src.Header) - 1; i >= 0 && i < len(lines) {
				raw = lines[i]
			}
			if dlErr := dead.Add(natsx.DeadLetterMsg(h.Service, "zeek-tsv", raw, err.Error(), origin)); dlErr != nil {
				return nil, dlErr
			}
			continue
		}
		obj := map[string]string{"_path": rec.Log, "ts": rec.Time.UTC().Format(time.RFC3339Nano)}
		if rec.Sensor != "" {
			obj["_system_name"] = rec.Sensor
		}
		if rec.UID != "" {
			obj["uid"] = rec.UID
		}
		for k, v := range rec.Fields {
			if _, set := obj[k]; !set {
				obj[k] = v
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := dead.Wait(wctx); err != nil {
		return nil, err
	}
	return out, nil
}
