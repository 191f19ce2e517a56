package winevent

import (
	"path/filepath"
	"testing"
)

// fuzzSeedFiles give the fuzzer one real line of each on-disk shape when shared/data is
// present; the hand-written seeds below cover ECS and the edge cases either way.
var fuzzSeedFiles = []string{
	"otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
	"otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json",
	"evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json",
	"evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json",
}

func FuzzParse(f *testing.F) {
	if dir, ok := findSharedData(); ok {
		for _, rel := range fuzzSeedFiles {
			seeds := 0
			eachLine(f, filepath.Join(dir, filepath.FromSlash(rel)), func(_ int, line []byte) bool {
				f.Add(append([]byte(nil), line...))
				seeds++
				return seeds < 2
			})
		}
	}
	for _, s := range []string{
		`{"EventID":4624,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03.798Z","Keywords":-9214364837600034816}`,
		`{"EventID":"10","Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"W5","TimeCreated":"2020-10-18 07:50:06.001","UtcTime":"2020-10-18 23:50:05.963"}`,
		`{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"Security","computer_name":"DC","event_id":"4768","event_data":{"TicketEncryptionType":"0x17"}}}`,
		`{"@timestamp":"2020-09-22T02:39:13Z","winlog.event_id":4769,"winlog.channel":"Security","winlog.event_data.X":[1,{"a":null}]}`,
		`{"EventID":4769,"Channel":"Security","Computer":"DC","EventRecordID":"1","TimeCreated":"2020-08-02T11:33:06.523438Z"}`,
		`{"EventID":"abc","Channel":5}`,
		`[1,2]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := Parse(line)
		if err != nil {
			if ev.EventID != 0 || ev.Fields != nil {
				t.Fatalf("error %v came with a partial event %+v", err, ev)
			}
			return
		}
		if ev.EventID <= 0 {
			t.Fatalf("EventID = %d after a successful parse", ev.EventID)
		}
		if ev.Channel == "" {
			t.Fatal("empty Channel after a successful parse")
		}
		if ev.Time.IsZero() {
			t.Fatal("zero Time after a successful parse")
		}
		if ev.Fields == nil {
			t.Fatal("nil Fields after a successful parse")
		}
		switch ev.Format {
		case FormatNXLog, FormatPowerShell, FormatEVTX, FormatECS:
		default:
			t.Fatalf("unknown Format %q", ev.Format)
		}
	})
}
