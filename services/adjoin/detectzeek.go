package adjoin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// zeekTSVHeader starts every Zeek ASCII log; `adjoin detect` reads such a file with the Zeek
// TSV reader (its header lines carry the field names) rather than line by line.
var zeekTSVHeader = []byte("#separator ")

// isZeekTSV says whether the buffered file starts with a Zeek ASCII log header.
func isZeekTSV(br *bufio.Reader, format string) bool {
	if format != "" && format != "zeek" {
		return false
	}
	head, _ := br.Peek(len(zeekTSVHeader))
	return bytes.Equal(head, zeekTSVHeader)
}

// detectZeekTSV runs the detectors over a Zeek ASCII log: a malformed row is counted as refused
// and named on stderr with its line; the rows after it are read on.
func detectZeekTSV(name string, br *bufio.Reader, detectors []detection.Detector, sum *detectSummary, stderr io.Writer) ([]*adjoinv1.Alert, error) {
	fmt.Fprintf(stderr, "adjoin detect: %s: Zeek ASCII log (line 1 is a #separator header)\n", name)
	tsv := zeek.NewTSVReader(br)
	tsv.MaxLineBytes = maxDetectLine
	var alerts []*adjoinv1.Alert
	for {
		rec, _, err := tsv.Next()
		switch {
		case errors.Is(err, io.EOF):
			return alerts, nil
		case errors.Is(err, zeek.ErrRead):
			return nil, fmt.Errorf("%s: %w", name, err)
		case err != nil:
			sum.rejected++
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		default:
			sum.events++
			alerts = append(alerts, detection.Run(detectors, rec.Event())...)
		}
	}
}
