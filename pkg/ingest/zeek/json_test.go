package zeek

import (
	"errors"
	"strings"
	"testing"
)

func TestZeekParseJSONHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		line   string
		log    string
		sensor string
		uid    string
		time   string
		want   map[string]string
		absent []string
	}{
		{
			name: "streaming JSON with underscores",
			line: `{"@stream":"kerberos","@system":"bobs.bigwheel.local","@proc":"zeek","ts":1588206998.97299,"uid":"CAG1Rc22yRMLn0xFpl","id_orig_h":"10.0.1.6","id_orig_p":57049,"id_resp_h":"10.0.0.4","id_resp_p":88,"request_type":"TGS","client":"pbeesly/DMEVALS.LOCAL","success":true,"forwardable":false}`,
			log:  "kerberos", sensor: "bobs.bigwheel.local", uid: "CAG1Rc22yRMLn0xFpl", time: "2020-04-30T00:36:38.97299Z",
			want:   map[string]string{"id.orig_h": "10.0.1.6", "id.orig_p": "57049", "request_type": "TGS", "success": "T", "forwardable": "F", "ts": "1588206998.97299"},
			absent: []string{"id_orig_h", "@proc", "@stream", "@system"},
		},
		{
			name: "Zeek's own JSON writer: _path, dotted names, ISO time, sets as arrays",
			line: `{"_path":"conn","_write_ts":"2020-04-30T00:00:01.000000Z","_system_name":"sensor-1","ts":"2020-04-30T00:00:00.123456Z","uid":"Cx","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"tunnel_parents":["Ca","Cb"],"service":[],"history":null}`,
			log:  "conn", sensor: "sensor-1", uid: "Cx", time: "2020-04-30T00:00:00.123456Z",
			want:   map[string]string{"tunnel_parents": "Ca,Cb", "service": "", "ts": "2020-04-30T00:00:00.123456Z"},
			absent: []string{"history", "_write_ts", "_path"},
		},
		{
			name: "nested id record is flattened",
			line: `{"_path":"smb_mapping","ts":1,"uid":"C1","id":{"orig_h":"10.0.0.1","resp_h":"10.0.0.2","resp_p":445},"path":"\\\\DC01\\ADMIN$"}`,
			log:  "smb_mapping", uid: "C1", time: "1970-01-01T00:00:01Z",
			want: map[string]string{"id.orig_h": "10.0.0.1", "id.resp_p": "445", "path": `\\DC01\ADMIN$`},
		},
		{
			name: "dotted spelling beats underscores and flattening",
			line: `{"_path":"conn","ts":1,"id_orig_h":"under","id":{"orig_h":"nested"},"id.orig_h":"dotted"}`,
			log:  "conn", time: "1970-01-01T00:00:01Z",
			want: map[string]string{"id.orig_h": "dotted"},
		},
		{
			name: "null dotted value leaves the underscore one",
			line: `{"_path":"conn","ts":1,"id.orig_h":null,"id_orig_h":"under"}`,
			log:  "conn", time: "1970-01-01T00:00:01Z",
			want: map[string]string{"id.orig_h": "under"},
		},
		{
			name: "@stream wins over _path; @system over _system_name",
			line: `{"_path":"x","@stream":"dce_rpc","_system_name":"b","@system":"a","ts":"1588206048.592985"}`,
			log:  "dce_rpc", sensor: "a", time: "2020-04-30T00:20:48.592985Z",
		},
		{
			name: "log name inferred from dce_rpc columns",
			line: `{"ts":1588206048.592985,"uid":"C2","endpoint":"drsuapi","operation":"DRSGetNCChanges"}`,
			log:  "dce_rpc", uid: "C2", time: "2020-04-30T00:20:48.592985Z",
		},
		{
			name: "log name inferred from kerberos columns",
			line: `{"ts":1588206048,"uid":"C3","request_type":"TGS"}`,
			log:  "kerberos", uid: "C3", time: "2020-04-30T00:20:48Z",
		},
		{
			name: "exponent ts, nanosecond digits truncated, other columns kept",
			line: `{"_path":"ntlm","ts":1.5882e9,"username":"pgustavo","domainname":"THESHIRE","hostname":"W5","server_nb_computer_name":"DC","success":true,"big":18446744073709551615,"nested_arr":[[1,2],{"a":null},true,null]}`,
			log:  "ntlm", time: "2020-04-29T22:40:00Z",
			want: map[string]string{"username": "pgustavo", "big": "18446744073709551615", "nested_arr": `[1,2],{"a":null},T,`},
		},
		{
			name: "long fraction is cut at nanoseconds",
			line: `{"_path":"ldap","ts":"1588206048.1234567891234","message_id":1,"opcode":"search"}`,
			log:  "ldap", time: "2020-04-30T00:20:48.123456789Z",
		},
		{
			name: "surrounding whitespace",
			line: " \t{\"_path\":\"conn\",\"ts\":0}\r\n",
			log:  "conn", time: "1970-01-01T00:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseJSON([]byte(tt.line))
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			if r.Log != tt.log || r.Sensor != tt.sensor || r.UID != tt.uid {
				t.Errorf("Log/Sensor/UID = %q/%q/%q, want %q/%q/%q", r.Log, r.Sensor, r.UID, tt.log, tt.sensor, tt.uid)
			}
			if want := mustTime(t, tt.time); !r.Time.Equal(want) {
				t.Errorf("Time = %v, want %v", r.Time, want)
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

func TestZeekParseJSONErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		wantErr error
		wantMsg string
	}{
		{name: "empty", line: "", wantErr: ErrNotJSON},
		{name: "blank", line: " \n", wantErr: ErrNotJSON},
		{name: "TSV line", line: "1692161647.506749\tC9kgIj1Hnh6x9Wd8ak\t192.168.1.41", wantErr: ErrNotJSON},
		{name: "truncated", line: `{"@stream":"kerberos","ts":158`, wantErr: ErrNotJSON},
		{name: "two objects", line: `{"_path":"conn","ts":1} {"_path":"conn","ts":2}`, wantErr: ErrNotJSON, wantMsg: "trailing"},
		{name: "array", line: `[{"_path":"conn","ts":1}]`, wantErr: ErrNotObject, wantMsg: "array"},
		{name: "number", line: `1588206048.5`, wantErr: ErrNotObject, wantMsg: "number"},
		{name: "null", line: `null`, wantErr: ErrNotObject},
		{name: "empty object", line: `{}`, wantErr: ErrMissingField, wantMsg: "ts"},
		{name: "no ts", line: `{"@stream":"kerberos","uid":"C1"}`, wantErr: ErrMissingField, wantMsg: "ts"},
		{name: "null ts", line: `{"@stream":"kerberos","ts":null}`, wantErr: ErrMissingField, wantMsg: "ts"},
		{name: "ts object", line: `{"@stream":"kerberos","ts":{"sec":1}}`, wantErr: ErrMissingField, wantMsg: "ts"},
		{name: "ts bool", line: `{"@stream":"kerberos","ts":true}`, wantErr: ErrInvalidField, wantMsg: "ts"},
		{name: "ts words", line: `{"@stream":"kerberos","ts":"yesterday"}`, wantErr: ErrInvalidField, wantMsg: "yesterday"},
		{name: "ts negative", line: `{"@stream":"kerberos","ts":-1}`, wantErr: ErrInvalidField},
		{name: "ts too far", line: `{"@stream":"kerberos","ts":1e300}`, wantErr: ErrInvalidField},
		{name: "ts overflows float", line: `{"@stream":"kerberos","ts":1e400}`, wantErr: ErrInvalidField},
		{name: "ts empty string", line: `{"@stream":"kerberos","ts":""}`, wantErr: ErrInvalidField},
		{name: "ts bad ISO", line: `{"@stream":"kerberos","ts":"2020-13-01T00:00:00Z"}`, wantErr: ErrInvalidField},
		{name: "no log name, unknown columns", line: `{"ts":1,"uid":"C1","id_orig_h":"10.0.1.6"}`, wantErr: ErrMissingField, wantMsg: "log name"},
		{name: "blank @stream", line: `{"@stream":"  ","ts":1}`, wantErr: ErrMissingField, wantMsg: "log name"},
		{name: "numeric @stream", line: `{"@stream":5,"ts":1}`, wantErr: ErrInvalidField, wantMsg: "@stream"},
		{name: "@system not a string", line: `{"@stream":"conn","@system":["a"],"ts":1}`, wantErr: ErrInvalidField, wantMsg: "@system"},
		{name: "log name with a slash", line: `{"_path":"../etc","ts":1}`, wantErr: ErrInvalidField, wantMsg: "log name"},
		{name: "empty key", line: `{"_path":"conn","ts":1,"":"x"}`, wantErr: ErrInvalidField, wantMsg: "column name"},
		{name: "empty nested key", line: `{"_path":"conn","ts":1,"id":{"":"x"}}`, wantErr: ErrInvalidField, wantMsg: "column name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseJSON([]byte(tt.line))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseJSON(%s) error = %v, want errors.Is %v (record %+v)", tt.line, err, tt.wantErr, r)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name %q", err, tt.wantMsg)
			}
			if r.Log != "" || r.Fields != nil || !r.Time.IsZero() {
				t.Errorf("failed ParseJSON returned a partial record %+v", r)
			}
		})
	}
}
