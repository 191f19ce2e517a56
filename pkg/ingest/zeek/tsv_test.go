package zeek

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// tsvHeader is the header block Zeek writes, with the given #path, #fields and #types.
func tsvHeader(path, fields, types string) string {
	return "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t" + path +
		"\n#open\t2023-08-16-01-28-55\n#fields\t" + fields + "\n#types\t" + types + "\n"
}

// step is what one Next call should return: a record's checks, or an error.
type step struct {
	line    int
	wantErr error
	log     string
	uid     string
	want    map[string]string
	absent  []string
}

func runTSV(t *testing.T, r *TSVReader, steps []step) {
	t.Helper()
	for i, s := range steps {
		rec, n, err := r.Next()
		if n != s.line {
			t.Errorf("step %d: line %d, want %d (err %v)", i, n, s.line, err)
		}
		if s.wantErr != nil {
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
			}
			if s.wantErr != io.EOF && !strings.Contains(err.Error(), "line ") {
				t.Errorf("step %d: error %q does not name the line", i, err)
			}
			if rec.Fields != nil || rec.Log != "" {
				t.Errorf("step %d: error came with a record %+v", i, rec)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if rec.Log != s.log || rec.UID != s.uid {
			t.Errorf("step %d: Log %q UID %q, want %q %q", i, rec.Log, rec.UID, s.log, s.uid)
		}
		for k, v := range s.want {
			if got, ok := rec.Fields[k]; !ok || got != v {
				t.Errorf("step %d: Fields[%q] = %q (present %v), want %q", i, k, got, ok, v)
			}
		}
		for _, k := range s.absent {
			if v, ok := rec.Fields[k]; ok {
				t.Errorf("step %d: Fields[%q] = %q, want absent", i, k, v)
			}
		}
	}
}

func TestZeekTSVReaderValues(t *testing.T) {
	t.Parallel()
	in := tsvHeader("smb_mapping", "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tpath\tservice\tnative_file_system\tshare_type\ttags",
		"time\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tset[string]") +
		// Zeek escapes backslashes as \x5c, a value equal to "-" as \x2d, the set separator inside a set element as \x2c.
		"1692161687.379241\tC1\t192.168.1.41\t51132\t192.168.1.4\t445\t\\x5c\\x5cDC01\\x5cADMIN$\t-\t(empty)\tDISK\ta,b\\x2cc,-\n" +
		"1692161687.4\tC2\t192.168.1.41\t51133\t192.168.1.4\t445\t\\x2d\t\\x28empty)\tNTFS\tPIPE\t(empty)\r\n" +
		"\n" +
		"1692161687.5\tC3\t192.168.1.41\t51134\t192.168.1.4\t445\t\\\\OLD\\C$\t\\xZZ\\x\t\\xff\\xfe\tDISK\t-\n" +
		"#close\t2023-08-16-01-28-55"
	r := NewTSVReader(strings.NewReader(in))
	runTSV(t, r, []step{
		{line: 9, log: "smb_mapping", uid: "C1",
			want:   map[string]string{"path": `\\DC01\ADMIN$`, "native_file_system": "", "share_type": "DISK", "tags": "a,b,c,", "id.orig_p": "51132", "ts": "1692161687.379241"},
			absent: []string{"service"}},
		{line: 10, log: "smb_mapping", uid: "C2", want: map[string]string{"path": "-", "service": "(empty)", "tags": ""}},
		// Old Zeek wrote backslashes raw; a backslash that starts no \xHH stays; bytes that
		// are not UTF-8 keep their escaped spelling.
		{line: 12, log: "smb_mapping", uid: "C3", want: map[string]string{"path": `\\OLD\C$`, "service": `\xZZ\x`, "native_file_system": `\xff\xfe`}, absent: []string{"tags"}},
		{line: 13, wantErr: io.EOF},
		{line: 13, wantErr: io.EOF},
	})
}

func TestZeekTSVReaderHeadersAcrossLogs(t *testing.T) {
	t.Parallel()
	in := tsvHeader("kerberos", "ts\tuid\tid.orig_h\tclient\tservice\tsuccess", "time\tstring\taddr\tstring\tstring\tbool") +
		"1692161647.516771\tCE5w\t192.168.1.41\tstevie.marie/PANDALAB.COM\tkrbtgt/PANDALAB.COM\tT\n" +
		"#close\t2023-08-16-01-28-55\n" +
		// A second log with its own separators, as `cat kerberos.log conn.log` gives.
		"#separator |\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|conn\n#fields|ts|uid|id_orig_h|tunnel_parents|service\n#types|time|string|addr|set[string]|string\n" +
		"1692161622.036086|Cnsu|192.168.1.41|x;y|NONE\n" +
		"1692161622.5|Cb|192.168.1.42|EMPTY|-\n"
	runTSV(t, NewTSVReader(strings.NewReader(in)), []step{
		{line: 9, log: "kerberos", uid: "CE5w", want: map[string]string{"client": "stevie.marie/PANDALAB.COM", "success": "T", "id.orig_h": "192.168.1.41"}},
		{line: 18, log: "conn", uid: "Cnsu", want: map[string]string{"tunnel_parents": "x,y", "id.orig_h": "192.168.1.41"}, absent: []string{"service", "id_orig_h"}},
		{line: 19, log: "conn", uid: "Cb", want: map[string]string{"tunnel_parents": "", "service": "-"}},
		{line: 19, wantErr: io.EOF},
	})
}

func TestZeekTSVReaderBadLinesDoNotStopIt(t *testing.T) {
	t.Parallel()
	good := "1692161647.5\tC1\t10.0.0.1\n"
	in := "1692161647.5\tC0\t10.0.0.1\n" + // 1: data before any header
		"#separator\n" + // 2: empty separator
		"#separator \\x09\n" + // 3
		"#path\tkerberos\n" + // 4
		"#fields\tts\tuid\tid.orig_h\n" + // 5
		"#types\ttime\tstring\n" + // 6: one type short
		good + // 7
		"1692161647.6\tC2\n" + // 8: a column short
		"1692161647.7\tC3\t10.0.0.1\textra\n" + // 9: a column too many
		"-\tC4\t10.0.0.1\n" + // 10: ts unset
		"soon\tC5\t10.0.0.1\n" + // 11: ts not a time
		"#path\tbad path\n" + // 12: not a log name
		"#set_separator\t,\t;\n" + // 13: two values
		"#fields\n" + // 14: no columns
		"#fields\tts\t\tuid\n" + // 15: an empty name
		strings.Repeat("x", 100) + "\n" + // 16: too long
		good + // 17: still read with the header of line 5
		strings.Repeat("y", 200) // 18: too long, and no final newline
	r := NewTSVReader(strings.NewReader(in))
	r.MaxLineBytes = 64
	runTSV(t, r, []step{
		{line: 1, wantErr: ErrNoHeader},
		{line: 2, wantErr: ErrBadHeader},
		{line: 6, wantErr: ErrBadHeader},
		{line: 7, log: "kerberos", uid: "C1"},
		{line: 8, wantErr: ErrColumnCount},
		{line: 9, wantErr: ErrColumnCount},
		{line: 10, wantErr: ErrMissingField},
		{line: 11, wantErr: ErrInvalidField},
		{line: 12, wantErr: ErrBadHeader},
		{line: 13, wantErr: ErrBadHeader},
		{line: 14, wantErr: ErrBadHeader},
		{line: 15, wantErr: ErrBadHeader},
		{line: 16, wantErr: ErrLineTooLong},
		{line: 17, log: "kerberos", uid: "C1", want: map[string]string{"id.orig_h": "10.0.0.1"}},
		{line: 18, wantErr: ErrLineTooLong},
		{line: 18, wantErr: io.EOF},
	})
}

func TestZeekTSVReaderWithoutPath(t *testing.T) {
	t.Parallel()
	in := "#fields\tts\tuid\tendpoint\toperation\n1588206048.5\tC1\tdrsuapi\tDRSGetNCChanges\n" +
		"#fields\tts\tuid\n1588206048.6\tC2\n"
	runTSV(t, NewTSVReader(strings.NewReader(in)), []step{
		{line: 2, log: "dce_rpc", uid: "C1", want: map[string]string{"operation": "DRSGetNCChanges"}},
		{line: 4, wantErr: ErrMissingField},
		{line: 4, wantErr: io.EOF},
	})
}

func TestZeekTSVReaderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader(tsvHeader("conn", "ts\tuid", "time\tstring")+"1.5\tC1\n"), iotest.ErrReader(boom))
	r := NewTSVReader(in)
	if rec, n, err := r.Next(); err != nil || rec.UID != "C1" || n != 9 {
		t.Fatalf("first record = %+v line %d, %v", rec, n, err)
	}
	for range 2 {
		if _, _, err := r.Next(); !errors.Is(err, boom) || errors.Is(err, io.EOF) {
			t.Fatalf("after the failure: %v, want %v every time", err, boom)
		}
	}
}

func TestZeekTSVReaderLongLineWithinLimit(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 200<<10) // longer than the bufio buffer, shorter than the default limit
	in := tsvHeader("http", "ts\tuid\turi", "time\tstring\tstring") + "1.5\tC1\t" + long + "\n"
	rec, _, err := NewTSVReader(strings.NewReader(in)).Next()
	if err != nil || rec.Get("uri") != long {
		t.Fatalf("Next = %d-byte uri, %v", len(rec.Get("uri")), err)
	}
}
