package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The honeypot of the S13 sample: lambda-user reads the properties of the user object
// %{259162f1-58e4-4ee9-9b9c-2baf2a03d376} (ObjectType bf967aba, the user class) three times
// in logon session 0x64f5c04, which came from 10.23.23.9. The file names the decoy only by its
// objectGUID.
const (
	honeytokenHoneypotFile = "evtx-to-mitre-attack/ndjson/ID4662-4624-Honeypot account property read.json"
	honeytokenHoneypotGUID = "259162f1-58e4-4ee9-9b9c-2baf2a03d376"
	honeytokenLambdaSID    = "S-1-5-21-4230534742-2542757381-3142984815-1158"
)

func honeytokenDetector(tokens ...string) func(*Sessions) detection.Detector {
	return func(s *Sessions) detection.Detector { return NewHoneytokenAccess(s, tokens...) }
}

func TestHoneytokenAccessOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       string
		mk         func(*Sessions) detection.Detector
		want       []reconWant
		wantTarget *adjoinv1.EntityRef // TARGET entity of the first alert, when there is one
	}{
		{
			name:       "S13 honeypot object read by lambda-user, honeytoken by objectGUID",
			file:       honeytokenHoneypotFile,
			mk:         honeytokenDetector(honeytokenHoneypotGUID),
			want:       []reconWant{{actor: `offsec\lambda-user`, sourceIP: "10.23.23.9", target: "rootdc1.offsec.lan", evidence: 3}},
			wantTarget: &adjoinv1.EntityRef{ObjectGuid: honeytokenHoneypotGUID},
		},
		{
			name:       "S13 honeypot, GUID configured as 4662 writes it",
			file:       honeytokenHoneypotFile,
			mk:         honeytokenDetector("%{259162F1-58E4-4EE9-9B9C-2BAF2A03D376}"),
			want:       []reconWant{{actor: `offsec\lambda-user`, sourceIP: "10.23.23.9", target: "rootdc1.offsec.lan", evidence: 3}},
			wantTarget: &adjoinv1.EntityRef{ObjectGuid: honeytokenHoneypotGUID},
		},
		{
			name: "S13 honeypot with no honeytoken configured: silent",
			file: honeytokenHoneypotFile,
			mk:   honeytokenDetector(),
		},
		{
			name: "S13 honeypot with an unrelated honeytoken: silent",
			file: honeytokenHoneypotFile,
			mk:   honeytokenDetector("svc-decoy", "S-1-5-21-4230534742-2542757381-3142984815-4242", "CN=decoy,OU=Users,DC=offsec,DC=lan"),
		},
		{
			// Treating the reader as the decoy exercises the SID path: its seven 4624 logons
			// (six from 10.23.23.9, one without an address) and its three 4662 reads are one alert.
			name: "S13 lambda-user itself as honeytoken, by SID: its logons and reads",
			file: honeytokenHoneypotFile,
			mk:   honeytokenDetector(honeytokenLambdaSID),
			want: []reconWant{{actor: `offsec.lan\lambda-user`, sourceIP: "10.23.23.9", target: "rootdc1.offsec.lan", evidence: 10}},
		},
		{
			name:       "S13 Kerberoasting a decoy service account (4769 ServiceSid)",
			file:       "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json",
			mk:         honeytokenDetector("S-1-5-21-4230534742-2542757381-3142984815-1171"), // Svc-SQL-DB01
			want:       []reconWant{{actor: `offsec.lan\admmig`, sourceIP: "10.23.23.9", target: "rootdc1.offsec.lan", evidence: 1}},
			wantTarget: &adjoinv1.EntityRef{SamAccountName: "svc-sql-db01", Sid: "S-1-5-21-4230534742-2542757381-3142984815-1171"},
		},
		{
			name: "S13 Kerbrute tries a decoy account (4771), named DOMAIN\\sam",
			file: "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json",
			mk:   honeytokenDetector(`OFFSEC\svc-ata`),
			want: []reconWant{{actor: `\svc-ata`, sourceIP: "10.23.123.11", target: "rootdc1.offsec.lan", evidence: 1}},
		},
		{
			name: "S13 Kerbrute tries a disabled decoy (4768 0x12), named sam@realm",
			file: "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json",
			mk:   honeytokenDetector("Test-ADM@offsec.lan"),
			want: []reconWant{{actor: `offsec.lan\test-adm`, sourceIP: "10.23.123.11", target: "rootdc1.offsec.lan", evidence: 1}},
		},
		{
			name: "S7 pgustavo as honeytoken: its 4624, two 4769 and its 4661 are one alert",
			file: "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json",
			mk:   honeytokenDetector("pgustavo"),
			// 5140/5145 are not watched: a share access always follows a 4624 on the same host.
			want: []reconWant{{actor: `theshire.local\pgustavo`, sourceIP: "172.18.39.5", target: "mordordc.theshire.local", evidence: 4}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := reconRun(t, tt.file, tt.mk)
			reconCheck(t, alerts, "honeytoken-access", []string{"T1087"}, tt.want)
			if tt.wantTarget != nil {
				got := reconRef(alerts[0], adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
				if got.GetObjectGuid() != tt.wantTarget.GetObjectGuid() || got.GetSamAccountName() != tt.wantTarget.GetSamAccountName() || got.GetSid() != tt.wantTarget.GetSid() {
					t.Errorf("target = %v, want %v", got, tt.wantTarget)
				}
			}
			for _, a := range alerts {
				if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
					t.Errorf("severity = %v", a.GetSeverity())
				}
			}
		})
	}
}

func TestHoneytokenAccessDistinguishedName(t *testing.T) {
	t.Parallel()
	// Hand-written: no recording has a 4662 whose ObjectName is a DN.
	events := reconParse(t,
		`{"EventID":4662,"Channel":"Security","Computer":"rootdc1.offsec.lan","TimeCreated":"2020-07-09T20:57:40.430754Z","EventRecordID":"1","SubjectUserSid":"S-1-5-21-9-8-7-1158","SubjectUserName":"lambda-user","SubjectDomainName":"OFFSEC","SubjectLogonId":"0x1","ObjectServer":"DS","ObjectType":"%{bf967aba-0de6-11d0-a285-00aa003049e2}","ObjectName":"CN=Decoy Admin,OU=Admins,DC=offsec,DC=lan","AccessMask":"0x10"}`,
	)
	alerts := reconRunEvents(events, honeytokenDetector("cn=decoy admin, ou=admins, dc=offsec, dc=lan"))
	reconCheck(t, alerts, "honeytoken-access", []string{"T1087"}, []reconWant{{actor: `offsec\lambda-user`, target: "rootdc1.offsec.lan", evidence: 1}})
}

func TestHoneytokenAccessAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	mk := honeytokenDetector(honeytokenHoneypotGUID)
	if a, b := reconIDs(reconRun(t, honeytokenHoneypotFile, mk)), reconIDs(reconRun(t, honeytokenHoneypotFile, mk)); a == "" || a != b {
		t.Fatalf("ids differ between replays: %s vs %s", a, b)
	}
}

func TestHoneytokenAccessBackground(t *testing.T) {
	t.Parallel()
	// No honeytoken is known for the S12 lab; with none configured the detector must stay
	// silent. sysmonsvc stands in for a decoy to show what a touched account looks like.
	reconLogBackground(t, honeytokenDetector())
	reconLogBackground(t, honeytokenDetector("sysmonsvc"))
}
