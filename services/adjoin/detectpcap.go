package adjoin

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/wire"
)

// detectPcap runs the detectors over a packet capture (pcap or pcapng) decoded by the DC
// traffic sensor (package wire): each record is one network-channel event, as adjoin-dcingest
// --pcap publishes it. stderr gets the sensor's counters.
func detectPcap(name string, detectors []detection.Detector, sum *detectSummary, stderr io.Writer) ([]*adjoinv1.Alert, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return detectCapture(name, f, detectors, sum, stderr)
}

// isCapture says whether the buffered file starts like a packet capture, so that `adjoin detect
// FILE` reads a capture without --pcap.
func isCapture(br *bufio.Reader) bool {
	head, _ := br.Peek(4)
	return wire.IsCaptureMagic(head)
}

// detectCapture decodes a capture read from r (see detectPcap).
func detectCapture(name string, r io.Reader, detectors []detection.Detector, sum *detectSummary, stderr io.Writer) ([]*adjoinv1.Alert, error) {
	var alerts []*adjoinv1.Alert
	st, err := wire.ReadPcap(r, wire.Config{}, func(r wire.Record) {
		sum.events++
		alerts = append(alerts, detection.Run(detectors, r.Event(""))...)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(stderr, "adjoin detect: %s: capture, %d packets, %d connections (%d not followed), %d records, %d messages not decoded\n",
		name, st.Packets, st.Flows, st.DroppedFlows, st.Records, st.DecodeErrors)
	return alerts, nil
}
