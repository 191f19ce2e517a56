package winevent

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return tm
}

// want lists the Event parts a hand-written case checks; Fields only lists keys to compare,
// absent lists keys that must not be in Fields.
type want struct {
	format, channel, provider, host, outcome string
	eventID                                  int
	time                                     string
	approx                                   bool
	recordID                                 int64
	fields                                   map[string]string
	absent                                   []string
}

func checkEvent(t *testing.T, got Event, w want) {
	t.Helper()
	if got.Format != w.format || got.EventID != w.eventID || got.Channel != w.channel ||
		got.Provider != w.provider || got.Host != w.host || got.RecordID != w.recordID ||
		got.Outcome != w.outcome || got.TimeApproximate != w.approx {
		t.Errorf("got %s/%d/%q provider %q host %q record %d outcome %q approx %v,\nwant %s/%d/%q provider %q host %q record %d outcome %q approx %v",
			got.Format, got.EventID, got.Channel, got.Provider, got.Host, got.RecordID, got.Outcome, got.TimeApproximate,
			w.format, w.eventID, w.channel, w.provider, w.host, w.recordID, w.outcome, w.approx)
	}
	if wt := mustTime(t, w.time); !got.Time.Equal(wt) || got.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got.Time, wt)
	}
	for k, v := range w.fields {
		if g, ok := got.Fields[k]; !ok || g != v {
			t.Errorf("Fields[%q] = %q (present %v), want %q", k, g, ok, v)
		}
	}
	for _, k := range w.absent {
		if _, ok := got.Fields[k]; ok {
			t.Errorf("Fields[%q] = %q, want absent (envelope)", k, got.Fields[k])
		}
	}
}

func TestParseHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "nxlog security with 64-bit keywords",
			line: `{"EventID":4624,"Channel":"security","Hostname":"DC.theshire.local","SourceName":"Microsoft-Windows-Security-Auditing","@timestamp":"2020-08-05T06:10:03.798Z","EventTime":"2020-08-05 02:10:02","RecordNumber":215522,"Keywords":-9214364837600034816,"EventType":"AUDIT_SUCCESS","host":"wec","tags":["x"],"TargetUserName":"pgustavo","LogonType":"3","KeyLength":0,"Flag":true,"Nothing":null,"Nested":{"b":"<x>","a":[1,2.5]}}`,
			want: want{
				format: FormatNXLog, eventID: 4624, channel: "security", provider: "Microsoft-Windows-Security-Auditing",
				host: "DC.theshire.local", time: "2020-08-05T06:10:03.798Z", recordID: 215522, outcome: OutcomeSuccess,
				fields: map[string]string{"TargetUserName": "pgustavo", "LogonType": "3", "KeyLength": "0", "Flag": "true",
					"Nothing": "", "Nested": `{"a":[1,2.5],"b":"<x>"}`},
				absent: []string{"EventID", "Channel", "Hostname", "@timestamp", "EventTime", "RecordNumber", "Keywords", "EventType", "host", "tags", "SourceName"},
			},
		},
		{
			name: "nxlog audit failure",
			line: `{"EventID":5145,"Channel":"Security","Hostname":"W6","@timestamp":"2020-08-05T06:10:03Z","Keywords":-9218868437227405312,"EventType":"AUDIT_FAILURE"}`,
			want: want{format: FormatNXLog, eventID: 5145, channel: "Security", host: "W6", time: "2020-08-05T06:10:03Z", outcome: OutcomeFailure},
		},
		{
			name: "nxlog sysmon registry keeps sysmon EventType and drops NXLog account",
			line: `{"EventID":13,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"W6","@timestamp":"2020-09-20T16:17:00.000Z","EventTime":"2020-09-20 12:16:56","UtcTime":"2020-09-20 16:16:56.569","EventType":"SetValue","EventTypeOrignal":"INFO","AccountName":"SYSTEM","Domain":"NT AUTHORITY","UserID":"S-1-5-18","User":"THESHIRE\\pgustavo"}`,
			want: want{
				format: FormatNXLog, eventID: 13, channel: "Microsoft-Windows-Sysmon/Operational", host: "W6",
				time: "2020-09-20T16:16:56.569Z", fields: map[string]string{"EventType": "SetValue", "User": `THESHIRE\pgustavo`},
				absent: []string{"EventTypeOrignal", "AccountName", "Domain", "UserID"},
			},
		},
		{
			name: "nxlog without @timestamp falls back to EventTime",
			line: `{"EventID":4624,"Channel":"Security","Hostname":"DC","EventTime":"2020-08-05 02:10:02"}`,
			want: want{format: FormatNXLog, eventID: 4624, channel: "Security", host: "DC", time: "2020-08-05T02:10:02Z", approx: true},
		},
		{
			name: "powershell security is approximate",
			line: `{"EventID":"4689","Channel":"Security","Hostname":"WORKSTATION5","TimeCreated":"2020-10-18 07:50:06.220","SourceName":"Microsoft-Windows-Security-Auditing","Task":"13313","Message":"A process has exited.","Status":"0x0"}`,
			want: want{
				format: FormatPowerShell, eventID: 4689, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "WORKSTATION5", time: "2020-10-18T07:50:06.220Z", approx: true,
				fields: map[string]string{"Message": "A process has exited.", "Status": "0x0"},
				absent: []string{"TimeCreated", "Task", "Hostname", "SourceName"},
			},
		},
		{
			name: "powershell sysmon uses UtcTime",
			line: `{"EventID":10,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WORKSTATION5","TimeCreated":"2020-10-18 07:50:06.001","UtcTime":"2020-10-18 23:50:05.963","GrantedAccess":"0x1410"}`,
			want: want{
				format: FormatPowerShell, eventID: 10, channel: "Microsoft-Windows-Sysmon/Operational", host: "WORKSTATION5",
				time: "2020-10-18T23:50:05.963Z", fields: map[string]string{"GrantedAccess": "0x1410", "UtcTime": "2020-10-18 23:50:05.963"},
			},
		},
		{
			name: "powershell sysmon with bad UtcTime falls back",
			line: `{"EventID":10,"Channel":"microsoft-windows-sysmon/operational","Hostname":"W5","TimeCreated":"2020-10-18 07:50:06.001","UtcTime":"soon"}`,
			want: want{format: FormatPowerShell, eventID: 10, channel: "microsoft-windows-sysmon/operational", host: "W5", time: "2020-10-18T07:50:06.001Z", approx: true},
		},
		{
			name: "evtx kerberos",
			line: `{"ProviderName":"Microsoft-Windows-Security-Auditing","EventID":4769,"Keywords":"0x8020000000000000","TimeCreated":"2020-08-02T11:33:06.523438Z","EventRecordID":"24476805","Channel":"Security","Computer":"rootdc1.offsec.lan","Level":"0","TicketEncryptionType":"0x00000017","UserID":null,"Data":["a",null]}`,
			want: want{
				format: FormatEVTX, eventID: 4769, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "rootdc1.offsec.lan", time: "2020-08-02T11:33:06.523438Z", recordID: 24476805, outcome: OutcomeSuccess,
				fields: map[string]string{"TicketEncryptionType": "0x00000017", "Data": `["a",null]`},
				absent: []string{"Keywords", "Level", "Computer", "TimeCreated", "EventRecordID", "ProviderName", "UserID"},
			},
		},
		{
			name: "evtx with offset time is converted to UTC",
			line: `{"EventID":7045,"Channel":"System","Computer":"jump01","TimeCreated":"2021-04-21T11:27:56+02:00","AccountName":"LocalSystem","Keywords":"0x8080000000000000"}`,
			want: want{format: FormatEVTX, eventID: 7045, channel: "System", host: "jump01", time: "2021-04-21T09:27:56Z",
				fields: map[string]string{"AccountName": "LocalSystem"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.line))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEvent(t, got, tt.want)
		})
	}
}

func TestEventMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		channel                  string
		security, system, sysmon bool
	}{
		{channel: "Security", security: true},
		{channel: "security", security: true},
		{channel: "SYSTEM", system: true},
		{channel: "Microsoft-Windows-Sysmon/Operational", sysmon: true},
		{channel: "microsoft-windows-sysmon/operational", sysmon: true},
		{channel: "Microsoft-Windows-WMI-Activity/Operational"},
		{channel: ""},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			t.Parallel()
			e := Event{Channel: tt.channel}
			if e.IsSecurity() != tt.security || e.IsSystem() != tt.system || e.IsSysmon() != tt.sysmon {
				t.Errorf("%q: IsSecurity/IsSystem/IsSysmon = %v/%v/%v, want %v/%v/%v", tt.channel,
					e.IsSecurity(), e.IsSystem(), e.IsSysmon(), tt.security, tt.system, tt.sysmon)
			}
			if got := e.Get("anything"); got != "" {
				t.Errorf("Get on nil Fields = %q, want empty", got)
			}
		})
	}
	e := Event{Fields: map[string]string{"SubjectUserName": "pgustavo"}}
	if got := e.Get("SubjectUserName"); got != "pgustavo" {
		t.Errorf("Get(SubjectUserName) = %q, want pgustavo", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		wantErr error
		wantMsg string // substring the message must contain
	}{
		{name: "empty line", line: "", wantErr: ErrNotJSON},
		{name: "blank line", line: "  \n", wantErr: ErrNotJSON},
		{name: "not json", line: "EventID=4624", wantErr: ErrNotJSON},
		{name: "truncated", line: `{"EventID":4624,"Chan`, wantErr: ErrNotJSON},
		{name: "trailing data", line: `{"EventID":4624} {"EventID":1}`, wantErr: ErrNotJSON},
		{name: "array", line: `[{"EventID":4624}]`, wantErr: ErrNotObject, wantMsg: "array"},
		{name: "string", line: `"4624"`, wantErr: ErrNotObject},
		{name: "null", line: `null`, wantErr: ErrNotObject},
		{name: "empty object", line: `{}`, wantErr: ErrMissingField, wantMsg: "EventID"},
		{name: "nxlog missing EventID", line: `{"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "EventID"},
		{name: "evtx missing EventID", line: `{"Channel":"Security","Computer":"DC","EventRecordID":"1","TimeCreated":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "EventID"},
		{name: "ecs missing event_id", line: `{"@timestamp":"2020-08-05T06:10:03Z","winlog":{"channel":"Security"}}`, wantErr: ErrMissingField, wantMsg: "winlog.event_id"},
		{name: "null EventID", line: `{"EventID":null,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "EventID"},
		{name: "empty string EventID", line: `{"EventID":"","Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "EventID"},
		{name: "string EventID abc", line: `{"EventID":"abc","Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField, wantMsg: `"abc"`},
		{name: "ecs event_id abc", line: `{"@timestamp":"2020-08-05T06:10:03Z","winlog":{"channel":"Security","event_id":"abc"}}`, wantErr: ErrInvalidField, wantMsg: "winlog.event_id"},
		{name: "zero EventID", line: `{"EventID":0,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField, wantMsg: "EventID"},
		{name: "negative EventID", line: `{"EventID":-4624,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField},
		{name: "fractional EventID", line: `{"EventID":4624.5,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField},
		{name: "huge EventID", line: `{"EventID":99999999999,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField},
		{name: "bool EventID", line: `{"EventID":true,"Channel":"Security","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField, wantMsg: "bool"},
		{name: "missing Channel", line: `{"EventID":4624,"Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "Channel"},
		{name: "blank Channel", line: `{"EventID":4624,"Channel":"  ","Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrMissingField, wantMsg: "Channel"},
		{name: "numeric Channel", line: `{"EventID":4624,"Channel":5,"Hostname":"DC","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField, wantMsg: "Channel"},
		{name: "ecs missing channel", line: `{"@timestamp":"2020-08-05T06:10:03Z","winlog":{"event_id":"4624"}}`, wantErr: ErrMissingField, wantMsg: "winlog.channel"},
		{name: "nxlog missing time", line: `{"EventID":4624,"Channel":"Security","Hostname":"DC"}`, wantErr: ErrMissingField, wantMsg: "@timestamp"},
		{name: "evtx missing time", line: `{"EventID":4624,"Channel":"Security","Computer":"DC","EventRecordID":"7"}`, wantErr: ErrMissingField, wantMsg: "TimeCreated"},
		{name: "ecs missing time", line: `{"winlog":{"event_id":4624,"channel":"Security"}}`, wantErr: ErrMissingField, wantMsg: "@timestamp"},
		{name: "no envelope at all", line: `{"EventID":4624,"Channel":"Security"}`, wantErr: ErrMissingField, wantMsg: "time"},
		{name: "sysmon without any time", line: `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"W5"}`, wantErr: ErrMissingField, wantMsg: "@timestamp"},
		{name: "bad @timestamp", line: `{"EventID":4624,"Channel":"Security","Hostname":"DC","@timestamp":"yesterday"}`, wantErr: ErrInvalidField, wantMsg: "@timestamp"},
		{name: "numeric @timestamp", line: `{"EventID":4624,"Channel":"Security","Hostname":"DC","@timestamp":1596607803}`, wantErr: ErrInvalidField, wantMsg: "@timestamp"},
		{name: "bad powershell TimeCreated", line: `{"EventID":4624,"Channel":"Security","Hostname":"W5","TimeCreated":"Sunday"}`, wantErr: ErrInvalidField, wantMsg: "TimeCreated"},
		{name: "zero time", line: `{"EventID":4624,"Channel":"Security","Computer":"DC","TimeCreated":"0001-01-01T00:00:00Z"}`, wantErr: ErrInvalidField, wantMsg: "TimeCreated"},
		{name: "winlog not an object", line: `{"winlog":"x","@timestamp":"2020-08-05T06:10:03Z"}`, wantErr: ErrInvalidField, wantMsg: "winlog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.line))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%s) error = %v, want errors.Is %v (event %+v)", tt.line, err, tt.wantErr, got)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name %q", err, tt.wantMsg)
			}
			if got.EventID != 0 || got.Fields != nil {
				t.Errorf("failed Parse returned a partial event %+v", got)
			}
		})
	}
}

// A Sysmon UtcTime is replaced by the event's own zoned creation time only when the two are a
// time zone's offset apart; NXLog's @timestamp, an ingest time, never replaces it (a backlog
// makes it minutes or hours late). Hand-written: the real 7 h case is TestSysmonUtcTimeInAnotherZone.
func TestSysmonTimeAgainstCreationClock(t *testing.T) {
	utc := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, line string
		want       time.Time
	}{
		{"evtx, 7 h apart: TimeCreated", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"W1","EventRecordID":7,"TimeCreated":"2024-03-01T03:00:00.020Z","UtcTime":"2024-03-01 10:00:00.000"}`,
			utc.Add(-7*time.Hour + 20*time.Millisecond)},
		{"evtx, 5 h 30 apart (a half-hour zone): TimeCreated", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"W1","EventRecordID":7,"TimeCreated":"2024-03-01T15:30:01Z","UtcTime":"2024-03-01 10:00:00.000"}`,
			utc.Add(5*time.Hour + 30*time.Minute + time.Second)},
		{"evtx, 7 h 3 min apart, not a zone: UtcTime", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"W1","EventRecordID":7,"TimeCreated":"2024-03-01T03:03:00Z","UtcTime":"2024-03-01 10:00:00.000"}`,
			utc},
		{"evtx, 40 s apart: UtcTime", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"W1","EventRecordID":7,"TimeCreated":"2024-03-01T10:00:40Z","UtcTime":"2024-03-01 10:00:00.000"}`,
			utc},
		{"nxlog, @timestamp 2 h late after a backlog: UtcTime", `{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"W1","@timestamp":"2024-03-01T12:00:00.000Z","UtcTime":"2024-03-01 10:00:00.000"}`,
			utc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Time.Equal(tt.want) {
				t.Errorf("Time %s, want %s", ev.Time, tt.want)
			}
		})
	}
}
