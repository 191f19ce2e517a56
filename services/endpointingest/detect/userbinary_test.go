package detect

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func TestUserBinaryToDomainServiceOnRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string // "host image user port" of each alert, sorted
	}{
		{"S1 Grunt implant calls the DC's RPC endpoint mapper",
			"otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
			[]string{`WORKSTATION5.theshire.local grunthttp.exe THESHIRE\pgustavo 135`}},
		{"S8 Grunt implant searches LDAP (two connections, one process)",
			"otrf/host/covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json",
			[]string{`WORKSTATION5.theshire.local grunthttp.exe THESHIRE\pgustavo 389`}},
		{"S3 Rubeus talks Kerberos only: left to kerberos-from-non-lsass",
			"otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json", nil},
		{"S4 pass-the-hash: powershell in System32 is not a user-folder program",
			"otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json", nil},
		{"S7 net.exe SAMR enumeration runs from System32",
			"otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, a := range runDetector(t, tt.file, UserBinaryToDomainService{}) {
				f := a.GetEvidence()[0].GetFields()
				got = append(got, fmt.Sprintf("%s %s %s %s", a.GetEntities()[0].GetDnsHostName(), detection.BaseName(f["Image"]), f["User"], f["DestinationPort"]))
			}
			sort.Strings(got)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
		})
	}
}

func runDetector(t *testing.T, file string, d detection.Detector) []*adjoinv1.Alert {
	t.Helper()
	var alerts []*adjoinv1.Alert
	for _, ev := range sample.Events(t, file) {
		alerts = append(alerts, d.Detect(ev)...)
	}
	return detection.Merge(alerts)
}
