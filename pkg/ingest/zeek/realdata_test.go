package zeek

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findSharedData walks up from the working directory to the first ancestor holding
// shared/data: /work/main/pkg/ingest/zeek finds /work/shared/data, and CI's fresh clone finds the
// copy of shared/ placed beside it. (package sample cannot be used here: it imports intake,
// which imports this package.)
func findSharedData() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// sharedData returns the shared data directory, skipping the test only when it is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	dir, ok := findSharedData()
	if !ok {
		t.Skip("shared/data not found beside the checkout")
	}
	return dir
}

// jsonRecords parses every line of a JSON sample, failing on any line that does not parse.
func jsonRecords(t testing.TB, rel string) []Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedData(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		r, err := ParseJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", rel, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tsvRecords reads a whole TSV sample, failing on any line the reader reports.
func tsvRecords(t testing.TB, rel string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedData(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var out []Record
	r := NewTSVReader(f)
	for {
		rec, n, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", rel, n, err)
		}
		out = append(out, rec)
	}
}

func TestZeekEverySampleParses(t *testing.T) {
	t.Parallel()
	// Record counts from the shared data README; the log name is the file name's suffix.
	tests := []struct {
		file   string
		tsv    bool
		count  int
		sensor string
		from   string // RFC 3339 range of ts
		to     string
	}{
		{file: "apt29_day1/NASHUA_dce_rpc.log", count: 57, sensor: "bobs.bigwheel.local", from: "2020-04-30T00:20:48Z", to: "2020-04-30T00:44:46Z"},
		{file: "apt29_day1/NASHUA_kerberos.log", count: 13, sensor: "bobs.bigwheel.local", from: "2020-04-30T00:06:39Z", to: "2020-04-30T00:40:44Z"},
		{file: "apt29_day1/NASHUA_smb_files.log", count: 6, sensor: "bobs.bigwheel.local", from: "2020-04-30T00:20:49Z", to: "2020-04-30T00:20:50Z"},
		{file: "apt29_day1/NASHUA_smb_mapping.log", count: 5, sensor: "bobs.bigwheel.local", from: "2020-04-30T00:06:39Z", to: "2020-04-30T00:36:41Z"},
		{file: "apt29_day1/SCRANTON_dce_rpc.log", count: 66, sensor: "simplerockbuild.simplerock.lan", from: "2020-04-30T00:12:00Z", to: "2020-04-30T00:44:46Z"},
		{file: "apt29_day1/SCRANTON_kerberos.log", count: 22, sensor: "simplerockbuild.simplerock.lan", from: "2020-04-30T00:06:38Z", to: "2020-04-30T00:40:23Z"},
		{file: "apt29_day1/SCRANTON_smb_files.log", count: 6, sensor: "simplerockbuild.simplerock.lan", from: "2020-04-30T00:12:01Z", to: "2020-04-30T00:12:02Z"},
		{file: "apt29_day1/SCRANTON_smb_mapping.log", count: 6, sensor: "simplerockbuild.simplerock.lan", from: "2020-04-30T00:06:38Z", to: "2020-04-30T00:36:39Z"},
		{file: "apt29_day2/NEWYORK_dce_rpc.log", count: 270, sensor: "test-nsm", from: "2020-05-01T07:09:51Z", to: "2020-05-01T07:29:33Z"},
		{file: "apt29_day2/NEWYORK_kerberos.log", count: 62, sensor: "test-nsm", from: "2020-05-01T07:09:46Z", to: "2020-05-01T07:29:33Z"},
		{file: "apt29_day2/NEWYORK_smb_files.log", count: 9, sensor: "test-nsm", from: "2020-05-01T07:23:57Z", to: "2020-05-01T07:23:59Z"},
		{file: "apt29_day2/NEWYORK_smb_mapping.log", count: 16, sensor: "test-nsm", from: "2020-05-01T07:09:46Z", to: "2020-05-01T07:25:05Z"},
		{file: "apt29_day2/SCRANTON_dce_rpc.log", count: 35, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/SCRANTON_kerberos.log", count: 11, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/SCRANTON_smb_mapping.log", count: 3, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-A_dce_rpc.log", count: 59, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-A_kerberos.log", count: 9, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-A_smb_mapping.log", count: 3, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-C_kerberos.log", count: 1, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-C_smb_mapping.log", count: 1, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-D_dce_rpc.log", count: 24, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "apt29_day2/UTICA-D_kerberos.log", count: 3, sensor: "test-nsm", from: "2020-05-01T07:00:00Z", to: "2020-05-01T07:30:00Z"},
		{file: "LSASS_campaign_01/kerberos.log", tsv: true, count: 10, from: "2023-08-16T04:54:07Z", to: "2023-08-16T04:55:33Z"},
		{file: "LSASS_campaign_01/smb_mapping.log", tsv: true, count: 1, from: "2023-08-16T04:54:47Z", to: "2023-08-16T04:54:48Z"},
		{file: "LSASS_campaign_01/conn.log", tsv: true, count: 112, from: "2023-08-16T04:50:00Z", to: "2023-08-16T05:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			rel := "otrf/zeek/" + tt.file
			var recs []Record
			if tt.tsv {
				recs = tsvRecords(t, rel)
			} else {
				recs = jsonRecords(t, rel)
			}
			if len(recs) != tt.count {
				t.Errorf("%d records, want %d", len(recs), tt.count)
			}
			base := filepath.Base(tt.file)
			wantLog := strings.TrimSuffix(base[strings.IndexByte(base, '_')+1:], ".log")
			if tt.tsv {
				wantLog = strings.TrimSuffix(base, ".log")
			}
			from, to := mustTime(t, tt.from), mustTime(t, tt.to)
			for i, r := range recs {
				switch {
				case r.Log != wantLog:
					t.Errorf("record %d: Log %q, want %q", i, r.Log, wantLog)
				case r.Sensor != tt.sensor:
					t.Errorf("record %d: Sensor %q, want %q", i, r.Sensor, tt.sensor)
				case r.Time.Before(from) || r.Time.After(to) || r.Time.Location() != time.UTC:
					t.Errorf("record %d: Time %v outside [%v, %v] or not UTC", i, r.Time, from, to)
				case r.UID == "" || r.UID != r.Fields["uid"]:
					t.Errorf("record %d: UID %q, Fields[uid] %q", i, r.UID, r.Fields["uid"])
				case r.Get("id.orig_h") == "" || r.Get("id.resp_h") == "" || r.Get("id.resp_p") == "":
					t.Errorf("record %d: connection columns missing: %v", i, r.Fields)
				}
				for k := range r.Fields {
					if strings.HasPrefix(k, "id_") || strings.HasPrefix(k, "times_") || strings.HasPrefix(k, "@") {
						t.Errorf("record %d: column %q not normalised", i, k)
					}
				}
			}
		})
	}
}

func TestZeekKnownSampleRecords(t *testing.T) {
	t.Parallel()
	find := func(t *testing.T, recs []Record, uid string, match func(Record) bool) Record {
		t.Helper()
		for _, r := range recs {
			if r.UID == uid && (match == nil || match(r)) {
				return r
			}
		}
		t.Fatalf("no record with uid %s", uid)
		return Record{}
	}
	tests := []struct {
		name   string
		file   string
		uid    string
		match  func(Record) bool
		log    string
		time   string
		sensor string
		want   map[string]string
		absent []string
	}{
		{
			name: "APT29 day 1: pbeesly TGS for host/nashua from NASHUA",
			file: "apt29_day1/NASHUA_kerberos.log", uid: "CAG1Rc22yRMLn0xFpl",
			log: "kerberos", time: "2020-04-30T00:36:38.97299Z", sensor: "bobs.bigwheel.local",
			want: map[string]string{
				"client": "pbeesly/DMEVALS.LOCAL", "service": "host/nashua.dmevals.local", "request_type": "TGS",
				"cipher": "aes256-cts-hmac-sha1-96", "success": "T", "forwardable": "T", "till": "2136422885.0",
				"id.orig_h": "10.0.1.6", "id.orig_p": "57049", "id.resp_h": "10.0.0.4", "id.resp_p": "88", "ts": "1588206998.97299",
			},
			absent: []string{"error_msg", "@stream", "@system", "@proc", "id_orig_h"},
		},
		{
			name: "APT29 day 1: pbeesly AS failing with PREAUTH_REQUIRED has no cipher",
			file: "apt29_day1/SCRANTON_kerberos.log", uid: "",
			match: func(r Record) bool {
				return r.Get("client") == "pbeesly/DMEVALS.LOCAL" && r.Get("request_type") == "AS" && r.Get("success") == "F"
			},
			log: "kerberos", sensor: "simplerockbuild.simplerock.lan",
			want:   map[string]string{"error_msg": "KDC_ERR_PREAUTH_REQUIRED", "service": "krbtgt/DMEVALS.LOCAL"},
			absent: []string{"cipher"},
		},
		{
			name: "APT29 day 2: scranton$ is the service of the failed TGS, and the client is unset",
			file: "apt29_day2/NEWYORK_kerberos.log", uid: "CALtIP2Adva01hujaa",
			log: "kerberos", time: "2020-05-01T07:29:31.514519Z", sensor: "test-nsm",
			want:   map[string]string{"service": "scranton$", "success": "F", "error_msg": "KDC_ERR_C_PRINCIPAL_UNKNOWN", "id.orig_h": "10.0.1.4"},
			absent: []string{"client", "cipher"},
		},
		{
			name: "APT29 day 1: UNC path of a SYSVOL mapping",
			file: "apt29_day1/NASHUA_smb_mapping.log", uid: "CF37FuG0Jho600cAa",
			match: func(r Record) bool { return r.Get("share_type") == "DISK" },
			log:   "smb_mapping", time: "2020-04-30T00:20:49.297996Z",
			sensor: "bobs.bigwheel.local",
			want:   map[string]string{"path": `\\NEWYORK.dmevals.local\sysvol`, "id.orig_h": "10.0.1.6", "id.resp_p": "445"},
		},
		{
			name: "APT29 day 1: smb_files times record is dotted",
			file: "apt29_day1/NASHUA_smb_files.log", uid: "CF37FuG0Jho600cAa",
			log: "smb_files", sensor: "bobs.bigwheel.local",
			want: map[string]string{"action": "SMB::FILE_OPEN", "times.changed": "1588187912.7667403", "size": "22"},
		},
		{
			name: "APT29 day 2: SAMR over \\pipe\\lsass",
			file: "apt29_day2/NEWYORK_dce_rpc.log", uid: "C9k9tu3HMhBA08cBgc",
			match: func(r Record) bool { return r.Get("operation") == "SamrQuerySecurityObject" },
			log:   "dce_rpc", time: "2020-05-01T07:25:16.261044Z", sensor: "test-nsm",
			want: map[string]string{"endpoint": "samr", "named_pipe": `\pipe\lsass`, "id.orig_h": "10.0.1.5", "id.orig_p": "49767"},
		},
		{
			name: "LSASS_campaign_01 TSV: pedro.gustavo TGS for cifs/DC01",
			file: "LSASS_campaign_01/kerberos.log", uid: "Czy5Qi2dIg5fdRt4Sb",
			log: "kerberos", time: "2023-08-16T04:54:47.363983Z",
			want: map[string]string{
				"client": "pedro.gustavo/PANDALAB.COM", "service": "cifs/DC01.pandalab.com", "success": "T",
				"cipher": "aes256-cts-hmac-sha1-96", "id.orig_h": "192.168.1.41", "id.orig_p": "51135", "id.resp_h": "192.168.1.4", "id.resp_p": "88",
			},
			// request_type is unset on every row of this file, as are from/till and the certificate columns.
			absent: []string{"request_type", "error_msg", "from", "till", "forwardable", "client_cert_subject"},
		},
		{
			name: "LSASS_campaign_01 TSV: AS request without pre-authentication, client unset",
			file: "LSASS_campaign_01/kerberos.log", uid: "C9kgIj1Hnh6x9Wd8ak",
			log: "kerberos", time: "2023-08-16T04:54:07.506749Z",
			want:   map[string]string{"service": "krbtgt/PANDALAB.COM", "success": "F", "error_msg": "KDC_ERR_PREAUTH_REQUIRED"},
			absent: []string{"client", "cipher"},
		},
		{
			name: "LSASS_campaign_01 TSV: the one smb_mapping row is an IPC pipe with the path unset",
			file: "LSASS_campaign_01/smb_mapping.log", uid: "CFk0K7CmGGGMIgep9",
			log: "smb_mapping", time: "2023-08-16T04:54:47.379241Z",
			want:   map[string]string{"share_type": "PIPE", "id.orig_h": "192.168.1.41", "id.orig_p": "51132", "id.resp_h": "192.168.1.4", "id.resp_p": "445"},
			absent: []string{"path", "service", "native_file_system"},
		},
		{
			name: "LSASS_campaign_01 TSV: conn row keeps bools as T/F and history as written",
			file: "LSASS_campaign_01/conn.log", uid: "CEHN6M1NNgYDO4umP5",
			log: "conn", time: "2023-08-16T04:54:46.132915Z",
			want:   map[string]string{"proto": "tcp", "duration": "199.811142", "conn_state": "OTH", "local_orig": "T", "history": "^hadt", "resp_ip_bytes": "535121"},
			absent: []string{"service", "tunnel_parents"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rel := "otrf/zeek/" + tt.file
			var recs []Record
			if strings.HasPrefix(tt.file, "LSASS") {
				recs = tsvRecords(t, rel)
			} else {
				recs = jsonRecords(t, rel)
			}
			var r Record
			if tt.uid == "" {
				for _, c := range recs {
					if tt.match(c) {
						r = c
						break
					}
				}
				if r.Log == "" {
					t.Fatal("no matching record")
				}
			} else {
				r = find(t, recs, tt.uid, tt.match)
			}
			if r.Log != tt.log || r.Sensor != tt.sensor {
				t.Errorf("Log %q Sensor %q, want %q %q", r.Log, r.Sensor, tt.log, tt.sensor)
			}
			if tt.time != "" && !r.Time.Equal(mustTime(t, tt.time)) {
				t.Errorf("Time = %v, want %s", r.Time, tt.time)
			}
			for k, v := range tt.want {
				if got, ok := r.Fields[k]; !ok || got != v {
					t.Errorf("Fields[%q] = %q (present %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := r.Fields[k]; ok {
					t.Errorf("Fields[%q] = %q, want absent", k, v)
				}
			}
		})
	}
}

// TestSamplesSameConnectionDifferentUIDs pins down a property of the APT29 data that
// deduplication depends on: the NEWYORK and UTICA-A sensors saw the same connection, but
// each Zeek gave it its own uid; no uid is in more than one file.
func TestZeekSamplesSameConnectionDifferentUIDs(t *testing.T) {
	t.Parallel()
	utica := jsonRecords(t, "otrf/zeek/apt29_day2/UTICA-A_smb_mapping.log")
	newyork := jsonRecords(t, "otrf/zeek/apt29_day2/NEWYORK_smb_mapping.log")
	key := func(r Record) string {
		return r.Get("id.orig_h") + ":" + r.Get("id.orig_p") + ">" + r.Get("id.resp_h") + ":" + r.Get("id.resp_p")
	}
	byKey := map[string]Record{}
	for _, r := range newyork {
		byKey[key(r)] = r
	}
	shared := 0
	for _, r := range utica {
		n, ok := byKey[key(r)]
		if !ok {
			continue
		}
		shared++
		if n.UID == r.UID {
			t.Errorf("%s: same uid %s in both sensors", key(r), r.UID)
		}
		if d := n.Time.Sub(r.Time).Abs(); d > 50*time.Millisecond {
			t.Errorf("%s: copies %v apart", key(r), d)
		}
	}
	if shared != 2 {
		t.Errorf("%d UTICA-A mappings also in NEWYORK's log, want 2 (the third predates NEWYORK's capture)", shared)
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return tm
}
