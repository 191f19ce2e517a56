package detect

import (
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// No recording holds a successful NTLM logon of a user account: the CC0 mimikatz
// pass-the-hash file is FS03's side only (4624 type 9, then 5145 C$ from 10.23.23.9 with no
// network 4624 logged), the PsExec samples log Kerberos logons, the Shire files log none, and
// the background playbook's NTLM is three ANONYMOUS LOGON 4624 (NTLM V1, null sessions from
// WEC/WORKSTATION6/WORKSTATION7) and seven failed 4776 (0xc000006a, a password spray from
// WORKSTATION5). So the detector stays silent on all of them, the background included.
func TestNTLMAnomalySilentOnRecordings(t *testing.T) {
	t.Parallel()
	for _, file := range append(adjSampleFiles(t), adjBackground) {
		for _, a := range adjRun(t, []detection.Detector{NewNTLMAnomaly()}, file) {
			t.Errorf("%s: unexpected alert %s", file, a.GetDescription())
		}
	}
}

func TestNTLMAnomalyBackgroundPlaybook(t *testing.T) {
	t.Parallel()
	adjLogBackground(t, []detection.Detector{NewNTLMAnomaly()})
}

// Hand-written events (no recording has them), in the Shire lab's shape.
func TestNTLMAnomaly(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2020, 9, 22, 2, 0, 0, 0, time.UTC)
	const dc = "MORDORDC.theshire.local"
	var rec int64
	ev := func(id int32, host string, after time.Duration, f map[string]string) *adjoinv1.Event {
		rec++
		return credAccessEvent(id, host, t0.Add(after), rec, f)
	}
	// pgustavo uses Kerberos from WORKSTATION5 (172.18.39.5), whose computer account's own TGT
	// tells the detector its address.
	kerberos := []*adjoinv1.Event{
		ev(4768, dc, 0, map[string]string{"TargetUserName": "WORKSTATION5$", "TargetDomainName": "THESHIRE", "IpAddress": "::ffff:172.18.39.5", "Status": "0x0"}),
		ev(4769, dc, time.Minute, map[string]string{"TargetUserName": "pgustavo@THESHIRE.LOCAL", "TargetDomainName": "THESHIRE.LOCAL", "ServiceName": "WORKSTATION6$", "IpAddress": "::ffff:172.18.39.5", "Status": "0x0"}),
	}
	ntlm4776 := func(after time.Duration, user, ws, status string) *adjoinv1.Event {
		return ev(4776, dc, after, map[string]string{"TargetUserName": user, "Workstation": ws, "Status": status, "PackageName": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"})
	}
	ntlm4624 := func(after time.Duration, user, ip, ws, lm string) *adjoinv1.Event {
		return ev(4624, "WORKSTATION6.theshire.local", after, map[string]string{"TargetUserName": user, "TargetDomainName": "THESHIRE",
			"TargetUserSid": "S-1-5-21-4228717743-1032521047-1810997296-1104", "LogonType": "3", "AuthenticationPackageName": "NTLM",
			"LmPackageName": lm, "IpAddress": ip, "WorkstationName": ws, "TargetLogonId": "0x1234"})
	}
	with := func(evs ...*adjoinv1.Event) []*adjoinv1.Event {
		return append(append([]*adjoinv1.Event{}, kerberos...), evs...)
	}
	type want struct {
		sev    adjoinv1.Severity
		source string // ip or netbios name
		events int
	}
	tests := []struct {
		name   string
		events []*adjoinv1.Event
		want   []want
	}{
		{"4776 from an unknown workstation for a Kerberos account: two events, one alert",
			with(ntlm4776(time.Hour, "pgustavo", "KALI", "0x0"), ntlm4776(time.Hour+time.Minute, "PGUSTAVO", "KALI", "0x0")),
			[]want{{adjoinv1.Severity_SEVERITY_HIGH, "kali", 2}}},
		{"4776 from the account's own Kerberos workstation", with(ntlm4776(time.Hour, "pgustavo", "WORKSTATION5", "0x0")), nil},
		{"failed 4776 is the spray detectors' business", with(ntlm4776(time.Hour, "pgustavo", "KALI", "0xc000006a")), nil},
		{"4624 NTLM V2 from another address", with(ntlm4624(time.Hour, "pgustavo", "172.18.39.66", "KALI", "NTLM V2")),
			[]want{{adjoinv1.Severity_SEVERITY_HIGH, "172.18.39.66", 1}}},
		{"4624 NTLM V2 from the Kerberos address", with(ntlm4624(time.Hour, "pgustavo", "::ffff:172.18.39.5", "-", "NTLM V2")), nil},
		{"4624 NTLM after the Kerberos window", with(ntlm4624(25*time.Hour, "pgustavo", "172.18.39.66", "KALI", "NTLM V2")), nil},
		{"account never seen with Kerberos", with(ntlm4624(time.Hour, "sbeavers", "172.18.39.66", "KALI", "NTLM V2")), nil},
		{"NTLM V1 by a user with no Kerberos history: weak protocol only",
			with(ntlm4624(time.Hour, "sbeavers", "172.18.39.66", "KALI", "NTLM V1")),
			[]want{{adjoinv1.Severity_SEVERITY_LOW, "172.18.39.66", 1}}},
		{"NTLM V1 by a Kerberos account from elsewhere: both alerts",
			with(ntlm4624(time.Hour, "pgustavo", "172.18.39.66", "KALI", "NTLM V1")),
			[]want{{adjoinv1.Severity_SEVERITY_HIGH, "172.18.39.66", 1}, {adjoinv1.Severity_SEVERITY_LOW, "172.18.39.66", 1}}},
		{"NTLM V1 null session (as in the background playbook)", with(ntlm4624(time.Hour, "ANONYMOUS LOGON", "172.18.38.6", "WEC", "NTLM V1")), nil},
		{"NTLM V1 by a machine account", with(ntlm4624(time.Hour, "WORKSTATION7$", "172.18.39.7", "WORKSTATION7", "NTLM V1")), nil},
		{"NTLM from loopback", with(ntlm4624(time.Hour, "pgustavo", "127.0.0.1", "-", "NTLM V2")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := adjRunEvents([]detection.Detector{NewNTLMAnomaly()}, tt.events)
			if len(alerts) != len(tt.want) {
				t.Fatalf("%d alerts, want %d: %v", len(alerts), len(tt.want), alerts)
			}
			for i, w := range tt.want {
				a := alerts[i]
				adjCheckCommon(t, a, "ntlm-anomaly")
				if a.GetSeverity() != w.sev || a.GetMitreTechniques()[0] != "T1550.002" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT || len(a.GetEvidence()) != w.events {
					t.Errorf("alert %d: severity %v technique %v phase %v evidence %d", i, a.GetSeverity(), a.GetMitreTechniques(), a.GetKillChainPhase(), len(a.GetEvidence()))
				}
				u := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
				if u.GetSamAccountName() != "pgustavo" && u.GetSamAccountName() != "sbeavers" {
					t.Errorf("actor = %v", u)
				}
				s := adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
				if s.GetIp() != w.source && s.GetNetbiosName() != w.source && s.GetDnsHostName() != w.source {
					t.Errorf("source = %v, want %s", s, w.source)
				}
			}
		})
	}
}
