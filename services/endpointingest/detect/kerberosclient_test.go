package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

func TestKerberosFromNonLSASSOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		wantImage string // "" for no alert
		wantUser  string
	}{
		{"S3 Rubeus asks the KDC for a TGT", "otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json", "rubeus.exe", "wardog"},
		{"S1 only lsass.exe speaks Kerberos", "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json", "", ""},
		{"S7 only lsass.exe speaks Kerberos", "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json", "", ""},
		{"S12 background: lsass.exe only", "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alerts := runDetector(t, tt.file, NewKerberosFromNonLSASS())
			if tt.wantImage == "" {
				if len(alerts) != 0 {
					t.Fatalf("unexpected alerts: %v", alerts)
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			f := alerts[0].GetEvidence()[0].GetFields()
			if detection.BaseName(f["Image"]) != tt.wantImage || alerts[0].GetEntities()[1].GetSamAccountName() != tt.wantUser {
				t.Errorf("alert = %v", alerts[0])
			}
		})
	}
}
