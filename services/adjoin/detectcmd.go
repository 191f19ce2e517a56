package adjoin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// maxDetectLine bounds one input line of `adjoin detect`.
const maxDetectLine = 1 << 20

// detectSummary counts what an offline run read and raised.
type detectSummary struct {
	events, rejected int
	alerts           map[string]int // detector -> alerts
}

// runDetect runs the ingestors' parsers and detectors over files with no NATS and no running
// stack, and prints every alert as one JSON line (protojson of adjoin.v1.Alert), the way
// analysts run Chainsaw or Hayabusa over exported logs. Both sides' detectors see every event,
// so DC and endpoint events may be mixed in one file. How each file is read (a Samba AD DC's
// log, or Windows and Zeek events line by line) is decided on its first lines unless --format
// says, and stderr names the choice and its reason (detectParser). Lines that cannot be read
// are reported on stderr with file and line number; the run goes on.
func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ldifFile, netbios, format, honeytokens, dcAddresses, sambaDC, pcaps string
	s := commandSet("detect")
	s.String(&ldifFile, "directory-ldif", "", "LDIF export of the directory, so detectors can tell domain controllers and known accounts")
	s.String(&netbios, "netbios-domain", "", "NetBIOS domain name for the LDIF (default: first DC= label)")
	s.String(&format, "format", "", "input shape: nxlog, powershell, evtx, ecs, zeek, or samba (a Samba AD DC log); default: a Samba log is recognised by its first lines, other files are read per line by each line's shape")
	s.String(&sambaDC, "samba-dc", "", "host name of the DC that wrote a Samba log (default: the name Samba gives itself in the log's simple binds)")
	s.String(&honeytokens, "honeytokens", "", "comma-separated decoy accounts whose use raises an alert")
	s.String(&dcAddresses, "dc-addresses", "", "domain controller addresses or prefixes, for the Zeek replication detector")
	s.String(&pcaps, "pcap", "", "comma-separated packet captures (pcap or pcapng) of domain controller traffic, decoded by the DC traffic sensor into network-channel events")
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	files := s.Args()
	if len(files) == 0 && pcaps == "" {
		return errors.New("usage: adjoin detect [flags] FILE... (- for standard input; see --help)")
	}
	index := directory.NewIndex()
	if ldifFile != "" {
		f, err := os.Open(ldifFile)
		if err != nil {
			return fmt.Errorf("directory-ldif: %w", err)
		}
		entities, err := dcingest.ReadLDIF(f, netbios, "ldif:"+filepath.Base(ldifFile))
		f.Close()
		if err != nil {
			return fmt.Errorf("directory-ldif %s: %w", ldifFile, err)
		}
		for _, e := range entities {
			index.Put(e)
		}
	}
	detectors := append(dcingest.Detectors(index, dcingest.DetectorOptions{Honeytokens: config.SplitList(honeytokens),
		DCAddresses: config.SplitList(dcAddresses)}), endpointingest.Detectors()...)
	sum := detectSummary{alerts: map[string]int{}}
	var alerts []*adjoinv1.Alert
	start := time.Now()
	for _, name := range config.SplitList(pcaps) {
		if err := ctx.Err(); err != nil {
			return err
		}
		found, err := detectPcap(name, detectors, &sum, stderr)
		if err != nil {
			return err
		}
		alerts = append(alerts, found...)
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		found, err := detectFile(name, format, sambaDC, detectors, &sum, stderr)
		if err != nil {
			return err
		}
		alerts = append(alerts, found...)
	}
	merged := detection.Merge(alerts)
	sort.SliceStable(merged, func(i, j int) bool {
		return merged[i].GetFirstActivity().AsTime().Before(merged[j].GetFirstActivity().AsTime())
	})
	for _, a := range merged {
		b, err := protojson.Marshal(a)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(stdout, string(b)); err != nil {
			return err
		}
		sum.alerts[a.GetDetector()]++
	}
	took := time.Since(start)
	fmt.Fprintf(stderr, "adjoin detect: %d events (%d lines refused) in %s, %.0f events/s; %d alerts", sum.events, sum.rejected,
		took.Round(time.Millisecond), float64(sum.events)/max(took.Seconds(), 1e-9), len(merged))
	names := make([]string, 0, len(sum.alerts))
	for d := range sum.alerts {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		fmt.Fprintf(stderr, ", %s %d", d, sum.alerts[d])
	}
	fmt.Fprintln(stderr)
	return nil
}

func detectFile(name, format, sambaDC string, detectors []detection.Detector, sum *detectSummary, stderr io.Writer) ([]*adjoinv1.Alert, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if format == "" && isCapture(br) {
		return detectCapture(name, br, detectors, sum, stderr)
	}
	if isZeekTSV(br, format) {
		return detectZeekTSV(name, br, detectors, sum, stderr)
	}
	parseLine, why := detectParser(br, format, sambaDC)
	fmt.Fprintf(stderr, "adjoin detect: %s: %s\n", name, why)
	var alerts []*adjoinv1.Alert
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than the buffer: gather the rest, up to the limit.
			long := append([]byte(nil), raw...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxDetectLine {
				raw, err = br.ReadSlice('\n')
				long = append(long, raw...)
			}
			for errors.Is(err, bufio.ErrBufferFull) { // skip what is past the limit
				_, err = br.ReadSlice('\n')
			}
			raw = long
		}
		if len(raw) > 0 && len(raw) <= maxDetectLine+2 {
			if trimmed := trimEOL(raw); len(trimmed) > 0 {
				ev, perr := parseLine(trimmed, format)
				switch {
				case errors.Is(perr, intake.ErrSkip):
				case perr != nil:
					sum.rejected++
					fmt.Fprintf(stderr, "%s:%d: %v\n", name, line, perr)
				default:
					sum.events++
					alerts = append(alerts, detection.Run(detectors, ev)...)
				}
			}
		} else if len(raw) > maxDetectLine+2 {
			sum.rejected++
			fmt.Fprintf(stderr, "%s:%d: line longer than %d bytes, skipped\n", name, line, maxDetectLine)
		}
		if errors.Is(err, io.EOF) {
			return alerts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
