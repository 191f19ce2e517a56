package zeek

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
)

// checkRecord holds the promises a successful parse makes, in both encodings.
func checkRecord(t *testing.T, r Record) {
	t.Helper()
	if !validLogName(r.Log) {
		t.Fatalf("Log %q after a successful parse", r.Log)
	}
	if r.Time.IsZero() || r.Time.Location().String() != "UTC" {
		t.Fatalf("Time %v after a successful parse", r.Time)
	}
	if r.Fields == nil || r.Fields["uid"] != r.UID {
		t.Fatalf("Fields %v, UID %q", r.Fields, r.UID)
	}
	if _, ok := r.Fields["ts"]; !ok {
		t.Fatal("ts missing from Fields")
	}
	if !utf8.ValidString(r.Sensor) {
		t.Fatalf("Sensor %q is not UTF-8", r.Sensor)
	}
	for k, v := range r.Fields {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			t.Fatalf("column %q = %q: empty name or not UTF-8", k, v)
		}
	}
	// Every record must become a publishable event.
	if _, err := proto.Marshal(r.Event()); err != nil {
		t.Fatalf("Event() does not marshal: %v", err)
	}
}

// fuzzSeedFiles gives the fuzzers real lines when shared/data is present; hand-written seeds
// cover the edge cases either way.
var fuzzSeedFiles = []string{
	"otrf/zeek/apt29_day1/NASHUA_kerberos.log",
	"otrf/zeek/apt29_day1/NASHUA_smb_files.log",
	"otrf/zeek/apt29_day2/NEWYORK_dce_rpc.log",
	"otrf/zeek/apt29_day2/NEWYORK_smb_mapping.log",
}

func FuzzParseJSON(f *testing.F) {
	if dir, ok := findSharedData(); ok {
		for _, rel := range fuzzSeedFiles {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				f.Fatal(err)
			}
			lines := bytes.Split(b, []byte("\n"))
			for _, l := range lines[:min(3, len(lines))] {
				f.Add(l)
			}
		}
	}
	for _, s := range []string{
		`{"_path":"conn","ts":"2020-04-30T00:00:00.123456Z","id":{"orig_h":"10.0.0.1"},"tunnel_parents":["Ca",1,true,null,{"a":[]}]}`,
		`{"@stream":"kerberos","ts":1.5e9,"id_orig_h":"x","id.orig_h":null,"success":false}`,
		`{"ts":1,"endpoint":"drsuapi","operation":"DRSGetNCChanges"}`,
		`{"@stream":5}`,
		`{"_path":"x","ts":"1588206048.1234567891234"}`,
		`[1]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseJSON(line)
		if err != nil {
			if r.Fields != nil || r.Log != "" {
				t.Fatalf("error %v came with a partial record %+v", err, r)
			}
			for _, sentinel := range []error{ErrNotJSON, ErrNotObject, ErrMissingField, ErrInvalidField} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		checkRecord(t, r)
	})
}

func FuzzTSVReader(f *testing.F) {
	if dir, ok := findSharedData(); ok {
		for _, rel := range []string{"otrf/zeek/LSASS_campaign_01/kerberos.log", "otrf/zeek/LSASS_campaign_01/smb_mapping.log"} {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(tsvHeader("smb_mapping", "ts\tuid\tpath\ttags", "time\tstring\tstring\tset[string]") +
		"1.5\tC1\t\\x5c\\x5cDC\\x5cC$\ta,b\\x2c,-\n2\tC2\t-\t(empty)\n#separator |\n#fields|ts|x\n3|\\xff\n"))
	f.Add([]byte("#fields\tts\tendpoint\toperation\n1\tsamr\tSamrConnect5\r\nx\n#types\tset[\n"))
	f.Add([]byte("#separator \\x\n#separator \\x00\n#fields\x00ts\n1\x001\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewTSVReader(bytes.NewReader(data))
		r.MaxLineBytes = 256
		last := 0
		for range strings.Count(string(data), "\n") + 2 {
			rec, n, err := r.Next()
			if n < last {
				t.Fatalf("line number went back from %d to %d", last, n)
			}
			last = n
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if rec.Fields != nil || rec.Log != "" {
					t.Fatalf("error %v came with a record %+v", err, rec)
				}
				continue
			}
			checkRecord(t, rec)
		}
		t.Fatal("reader did not reach io.EOF after one call per line")
	})
}
