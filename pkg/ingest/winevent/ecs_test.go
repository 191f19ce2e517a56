package winevent

import (
	"testing"
)

// Winlogbeat/ECS lines are hand-written from the Winlogbeat exported-fields reference
// (winlog.event_id, winlog.channel, winlog.computer_name, winlog.record_id,
// winlog.provider_name, winlog.event_data.*, winlog.user_data.*, winlog.keywords,
// event.code, event.outcome): shared/data holds no Winlogbeat sample.
func TestParseECS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "winlogbeat 7 string event_id",
			line: `{"@timestamp":"2020-09-22T02:39:13.120Z","event":{"code":"4768","kind":"event","provider":"Microsoft-Windows-Security-Auditing","outcome":"success"},"host":{"name":"mordordc"},"winlog":{"api":"wineventlog","channel":"Security","computer_name":"MORDORDC.theshire.local","event_id":"4768","provider_name":"Microsoft-Windows-Security-Auditing","record_id":"123456","keywords":["Audit Success"],"event_data":{"TargetUserName":"pgustavo","TicketEncryptionType":"0x17","PreAuthType":"2","IpAddress":"::ffff:172.18.39.6"}}}`,
			want: want{
				format: FormatECS, eventID: 4768, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "MORDORDC.theshire.local", time: "2020-09-22T02:39:13.120Z", recordID: 123456, outcome: OutcomeSuccess,
				fields: map[string]string{"TargetUserName": "pgustavo", "TicketEncryptionType": "0x17", "IpAddress": "::ffff:172.18.39.6"},
				absent: []string{"event_id", "channel", "@timestamp", "winlog", "code"},
			},
		},
		{
			name: "winlogbeat 6 integer event_id and record_id",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"Security","computer_name":"DC","event_id":4624,"record_id":77,"event_data":{"LogonType":"3"}}}`,
			want: want{format: FormatECS, eventID: 4624, channel: "Security", host: "DC", time: "2020-09-22T02:39:13Z", recordID: 77,
				fields: map[string]string{"LogonType": "3"}},
		},
		{
			name: "event.code when winlog.event_id is absent, host.name when computer_name is",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","event":{"code":"4769"},"host":{"name":"dc01"},"winlog":{"channel":"Security"}}`,
			want: want{format: FormatECS, eventID: 4769, channel: "Security", host: "dc01", time: "2020-09-22T02:39:13Z"},
		},
		{
			name: "audit failure from keywords",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"Security","computer_name":"W6","event_id":"5145","keywords":["Audit Failure"],"event_data":{"ShareName":"\\\\*\\IPC$"}}}`,
			want: want{format: FormatECS, eventID: 5145, channel: "Security", host: "W6", time: "2020-09-22T02:39:13Z", outcome: OutcomeFailure,
				fields: map[string]string{"ShareName": `\\*\IPC$`}},
		},
		{
			name: "sysmon UtcTime beats @timestamp",
			line: `{"@timestamp":"2020-09-22T02:14:28.971Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WORKSTATION6.theshire.local","event_id":"10","provider_name":"Microsoft-Windows-Sysmon","record_id":"3659063","event_data":{"UtcTime":"2020-09-22 02:14:24.632","GrantedAccess":"0x1010","TargetImage":"C:\\windows\\system32\\lsass.exe"}}}`,
			want: want{format: FormatECS, eventID: 10, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "WORKSTATION6.theshire.local", time: "2020-09-22T02:14:24.632Z", recordID: 3659063,
				fields: map[string]string{"GrantedAccess": "0x1010", "TargetImage": `C:\windows\system32\lsass.exe`}},
		},
		{
			name: "user_data for log cleared",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"Security","computer_name":"DC","event_id":"1102","user_data":{"SubjectUserName":"wardog","xml_name":"LogFileCleared"}}}`,
			want: want{format: FormatECS, eventID: 1102, channel: "Security", host: "DC", time: "2020-09-22T02:39:13Z",
				fields: map[string]string{"SubjectUserName": "wardog", "xml_name": "LogFileCleared"}},
		},
		{
			name: "flattened dotted keys",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","winlog.event_id":"4769","winlog.channel":"Security","winlog.computer_name":"DC","winlog.record_id":"9","winlog.event_data.TicketEncryptionType":"0x17","winlog.event_data.ServiceName":"krbtgt","event.outcome":"failure"}`,
			want: want{format: FormatECS, eventID: 4769, channel: "Security", host: "DC", time: "2020-09-22T02:39:13Z", recordID: 9, outcome: OutcomeFailure,
				fields: map[string]string{"TicketEncryptionType": "0x17", "ServiceName": "krbtgt"},
				absent: []string{"winlog.event_id", "winlog.channel", "@timestamp"}},
		},
		{
			name: "event_data wins over user_data and numbers stringified",
			line: `{"@timestamp":"2020-09-22T02:39:13Z","winlog":{"channel":"System","computer_name":"W5","event_id":7045,"event_data":{"ServiceName":"PSEXESVC","Count":3},"user_data":{"ServiceName":"other"}}}`,
			want: want{format: FormatECS, eventID: 7045, channel: "System", host: "W5", time: "2020-09-22T02:39:13Z",
				fields: map[string]string{"ServiceName": "PSEXESVC", "Count": "3"}},
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
			if !got.LocalTime.IsZero() {
				t.Errorf("LocalTime = %v, want zero for ECS", got.LocalTime)
			}
		})
	}
}
