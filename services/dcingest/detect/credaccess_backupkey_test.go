package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

const backupKeyFile = "otrf/more/credential_access/empire_mimikatz_backupkeys_dcerpc_smb_lsarpc_2020-10-22143243.sec-sys-sysmon.json"

func backupKeyDetectors() []detection.Detector {
	s := NewSessions(1000)
	return []detection.Detector{s, NewDPAPIBackupKey(s)}
}

// lsadump::backupkeys by pgustavo from WORKSTATION5: four 4662 on the G$BCKUPKEY secrets and
// the lsarpc pipe opens of the same session are one alert, with the source address.
func TestDPAPIBackupKeyOnRecording(t *testing.T) {
	t.Parallel()
	alerts := adjRun(t, backupKeyDetectors(), backupKeyFile)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(alerts), alerts)
	}
	a := alerts[0]
	credAccessCheckAlert(t, a, "dpapi-backup-key", "T1003.004")
	got := credAccessSummarize(a)
	want := credAccessSummary{Actor: `theshire\pgustavo`, Source: "172.18.39.5", Computer: "MORDORDC.theshire.local", Evidence: 8}
	if got != want {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
	if ids := adjEventIDs(a); ids != "4662,4662,4662,4662,5145,5145,5145,5145" {
		t.Errorf("evidence event ids = %s", ids)
	}
}

// Negative controls: the DC captures of S1-S8 (ordinary lsarpc lookups, the DC's own secret
// reads), the CC0 samples, the other atomic recordings and the background playbook.
func TestDPAPIBackupKeySilentElsewhere(t *testing.T) {
	t.Parallel()
	credAccessSilent(t, backupKeyDetectors, backupKeyFile)
}

// No recording holds the DC's own read (a machine account) or more pipe opens than the bound:
// hand-written events.
func TestDPAPIBackupKeyBounds(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	secret := func(user string) *adjoinv1.Event {
		return credAccessEvent(4662, "DC1.corp.example", at, 1, map[string]string{"SubjectUserName": user, "SubjectDomainName": "CORP",
			"SubjectUserSid": "S-1-5-21-1-2-3-1104", "SubjectLogonId": "0x99", "ObjectServer": "LSA", "ObjectType": "SecretObject",
			"ObjectName": `Policy\Secrets\G$BCKUPKEY_PREFERRED`})
	}
	d := NewDPAPIBackupKey(nil)
	d.MaxSessions = 2
	if got := d.Detect(secret("DC1$")); len(got) != 0 {
		t.Errorf("the DC's own read raised %v", got)
	}
	for i := range 10 {
		d.Detect(credAccessEvent(5145, "DC1.corp.example", at, int64(10+i), map[string]string{"SubjectUserName": "alice",
			"SubjectLogonId": "0x99", "RelativeTargetName": "protected_storage", "IpAddress": "10.0.0.9"}))
	}
	for i := range 3 { // other sessions push 0x99 out of a table of 2
		d.Detect(credAccessEvent(5145, "DC1.corp.example", at, int64(30+i), map[string]string{"SubjectUserName": "bob",
			"SubjectLogonId": fmt.Sprintf("0x%x", 200+i), "RelativeTargetName": "lsarpc"}))
	}
	got := d.Detect(secret("alice"))
	if len(got) != 1 || len(got[0].GetEvidence()) != 1 {
		t.Fatalf("alerts = %v, want one with the 4662 alone (its session's pipes forgotten)", got)
	}
	d = NewDPAPIBackupKey(nil)
	for i := range 10 {
		d.Detect(credAccessEvent(5145, "DC1.corp.example", at, int64(10+i), map[string]string{"SubjectUserName": "alice",
			"SubjectLogonId": "0x99", "RelativeTargetName": "protected_storage"}))
	}
	if got := d.Detect(secret("alice")); len(got) != 1 || len(got[0].GetEvidence()) != d.MaxPipes+1 {
		t.Errorf("alerts = %v, want one with %d pipe opens and the 4662", got, d.MaxPipes)
	}
}
