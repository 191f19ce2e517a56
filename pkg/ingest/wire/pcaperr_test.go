package wire

import (
	"bytes"
	"strings"
	"testing"
)

// TestReadPcapRefusesWhatIsNotACapture checks that a file which is not a capture, or whose
// header is cut short, is refused with a message saying which, not a decoder's bare error.
func TestReadPcapRefusesWhatIsNotACapture(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "shorter than a pcap or pcapng header"},
		{"three bytes", "\xd4\xc3\xb2", "shorter than a pcap or pcapng header"},
		{"NDJSON", `{"EventID":4624}` + "\n", "not a pcap or pcapng capture"},
		{"pcap header cut short", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "capture header cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPcap(bytes.NewReader([]byte(tc.data)), Config{}, func(Record) {})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadPcap(%q): %v, want an error saying %q", tc.data, err, tc.want)
			}
		})
	}
}
