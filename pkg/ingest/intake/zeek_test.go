package intake

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/adjoin/adjoin/pkg/ingest/winevent"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// A real kerberos line of the APT29 day 1 NASHUA sensor.
const lineZeekKerberos = `{"@stream":"kerberos","@system":"bobs.bigwheel.local","@proc":"zeek","ts":1588206998.97299,"uid":"CAG1Rc22yRMLn0xFpl","id_orig_h":"10.0.1.6","id_orig_p":57049,"id_resp_h":"10.0.0.4","id_resp_p":88,"request_type":"TGS","client":"pbeesly/DMEVALS.LOCAL","service":"host/nashua.dmevals.local","success":true,"till":2136422885.0,"cipher":"aes256-cts-hmac-sha1-96","forwardable":true,"renewable":true}`

func TestParseAny(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		line        string
		format      string
		wantReason  string // "" for success
		wantErr     error
		wantFormat  string
		wantChannel string
		wantHost    string
		wantFields  map[string]string
	}{
		{
			name: "zeek kerberos detected by @stream", line: lineZeekKerberos,
			wantFormat: "zeek", wantChannel: "zeek/kerberos", wantHost: "bobs.bigwheel.local",
			wantFields: map[string]string{"client": "pbeesly/DMEVALS.LOCAL", "id.orig_h": "10.0.1.6", "uid": "CAG1Rc22yRMLn0xFpl", "success": "T"},
		},
		{name: "zeek asked as zeek", line: lineZeekKerberos, format: "zeek", wantFormat: "zeek", wantChannel: "zeek/kerberos", wantHost: "bobs.bigwheel.local"},
		{
			name: "zeek detected by _path", line: `{"_path":"smb_mapping","ts":1588205199.835004,"uid":"C1","id.orig_h":"10.0.1.6","path":"\\\\NEWYORK\\ADMIN$"}`,
			wantFormat: "zeek", wantChannel: "zeek/smb_mapping", wantFields: map[string]string{"path": `\\NEWYORK\ADMIN$`},
		},
		{
			name: "zeek detected by uid and ts, log from its columns", line: `{"ts":1588205199.835004,"uid":"C2","endpoint":"drsuapi","operation":"DRSGetNCChanges"}`,
			wantFormat: "zeek", wantChannel: "zeek/dce_rpc",
		},
		{name: "windows nxlog still parsed", line: lineMinimalNXLog, wantFormat: "winevent-nxlog", wantChannel: "Security", wantHost: "MORDORDC.theshire.local"},
		{name: "windows asked as nxlog", line: lineMinimalNXLog, format: "nxlog", wantFormat: "winevent-nxlog", wantChannel: "Security", wantHost: "MORDORDC.theshire.local"},
		{
			name: "windows event whose data names a uid is not zeek", line: `{"EventID":4624,"Channel":"Security","Hostname":"DC","EventTime":"2020-08-05 02:10:02","uid":"x"}`,
			wantFormat: "winevent-nxlog", wantChannel: "Security", wantHost: "DC",
		},
		{name: "zeek sent as nxlog", line: lineZeekKerberos, format: "nxlog", wantReason: "wrong-format"},
		{name: "windows sent as zeek", line: lineMinimalNXLog, format: "zeek", wantReason: "missing-field", wantErr: zeek.ErrMissingField},
		{name: "not JSON", line: lineNotJSON, wantReason: "not-json", wantErr: winevent.ErrNotJSON},
		{name: "not JSON as zeek", line: "1692161647.5\tC1\t192.168.1.41", format: "zeek", wantReason: "not-json", wantErr: zeek.ErrNotJSON},
		{name: "truncated zeek line falls to the Windows parser", line: `{"@stream":"kerberos","ts":158`, wantReason: "not-json", wantErr: winevent.ErrNotJSON},
		{name: "array as zeek", line: `[1]`, format: "zeek", wantReason: "not-object", wantErr: zeek.ErrNotObject},
		{name: "zeek without ts", line: `{"@stream":"kerberos","uid":"C1"}`, wantReason: "missing-field", wantErr: zeek.ErrMissingField},
		{name: "zeek with a bad ts", line: `{"@stream":"kerberos","ts":"soon"}`, wantReason: "invalid", wantErr: zeek.ErrInvalidField},
		{name: "zeek with no recognisable log", line: `{"ts":1,"uid":"C1"}`, wantReason: "missing-field", wantErr: zeek.ErrMissingField},
		{name: "windows missing EventID", line: lineNoEventID, wantReason: "missing-field", wantErr: winevent.ErrMissingField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseAny([]byte(tt.line), tt.format)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ParseAny = %v", err)
				}
				if ev.GetFormat() != tt.wantFormat || ev.GetChannel() != tt.wantChannel || ev.GetHost() != tt.wantHost || ev.GetTime() == nil {
					t.Errorf("event = %v, want format %s channel %s host %q with a time", ev, tt.wantFormat, tt.wantChannel, tt.wantHost)
				}
				for k, v := range tt.wantFields {
					if got := ev.GetFields()[k]; got != v {
						t.Errorf("Fields[%q] = %q, want %q", k, got, v)
					}
				}
				if ev.GetId() != "" || ev.GetOrigin() != "" {
					t.Errorf("parser set id %q origin %q; the handler owns them", ev.GetId(), ev.GetOrigin())
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("ParseAny = %v, want a *LineError", err)
			}
			if le.Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q (%v)", le.Reason, tt.wantReason, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if ev != nil {
				t.Errorf("event %v returned with an error", ev)
			}
		})
	}
}

// TestParseAnyZeekSamples sends every APT29 Zeek line through ParseAny with format "" and
// every line of a Windows recording too: each must land with its own parser.
func TestParseAnyZeekSamples(t *testing.T) {
	t.Parallel()
	dir := sharedData(t)
	files, err := filepath.Glob(filepath.Join(dir, "otrf", "zeek", "apt29_*", "*.log"))
	if err != nil || len(files) != 22 {
		t.Fatalf("%d APT29 Zeek files, %v; want 22", len(files), err)
	}
	files = append(files, filepath.Join(dir, "otrf", "host", "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"))
	counts := map[string]int{}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for n := 1; sc.Scan(); n++ {
			ev, err := ParseAny(sc.Bytes(), "")
			if err != nil {
				t.Fatalf("%s:%d: %v", filepath.Base(path), n, err)
			}
			counts[ev.GetFormat()]++
		}
	}
	// 687 Zeek records in the 22 APT29 files (README inventory); the S1 recording is nxlog.
	if counts["zeek"] != 687 || counts["winevent-nxlog"] == 0 || len(counts) != 2 {
		t.Errorf("formats = %v, want 687 zeek and the rest winevent-nxlog", counts)
	}
}
