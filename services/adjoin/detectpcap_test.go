package adjoin

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// pcapAlert is the part of a printed alert the capture tests compare.
type pcapAlert struct {
	Detector string `json:"detector"`
	Entities []struct {
		Role           string `json:"role"`
		SamAccountName string `json:"samAccountName"`
		IP             string `json:"ip"`
	} `json:"entities"`
}

// users and ips are the alert's account names (lower case) and addresses.
func (a pcapAlert) users() map[string]bool {
	m := map[string]bool{}
	for _, e := range a.Entities {
		if e.SamAccountName != "" {
			m[strings.ToLower(e.SamAccountName)] = true
		}
	}
	return m
}

func (a pcapAlert) ip(role string) string {
	for _, e := range a.Entities {
		if e.Role == role && e.IP != "" {
			return e.IP
		}
	}
	return ""
}

// detectAlerts runs `adjoin detect` and returns its alerts by detector.
func detectAlerts(t *testing.T, args ...string) map[string][]pcapAlert {
	t.Helper()
	out, errOut, code := run(t, append([]string{"detect"}, args...)...)
	if code != 0 {
		t.Fatalf("adjoin detect %v: exit %d: %s", args, code, errOut)
	}
	m := map[string][]pcapAlert{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var a pcapAlert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		m[a.Detector] = append(m[a.Detector], a)
	}
	return m
}

// TestDetectPcap: on every capture of otrf/pcap, the DC traffic sensor's events raise the
// attack the data README names for it, on the same account and source host as the alert the
// host logs of the same attack raise (the host log's detector, run on its file). Where the
// capture does not hold the Kerberos exchange that issued the ticket the attacker presented,
// the sensor cannot name the account (S5's target-side capture, S6), and the test says so.
// The background capture (S12) is a control: only its Kerberoasting and its LDAP searches for
// SPN accounts, both part of PurpleSharp's playbook, may raise alerts.
func TestDetectPcap(t *testing.T) {
	t.Parallel()
	data := sample.Dir(t)
	pcap := func(name string) string { return filepath.Join(data, "otrf", "pcap", name) }
	host := func(name string) string { return filepath.Join(data, "otrf", "host", name) }
	tests := []struct {
		name, pcap, wireDetector   string
		wantUser, wantSrc, wantDst string
		hostFile, hostDetector     string
	}{
		{"S1 DCSync", pcap("covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap"), "zeek-drsuapi-replication",
			"pgustavo", "172.18.39.5", "172.18.38.5", host("covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"), "dcsync"},
		{"S3 Rubeus asktgt /rc4", pcap("empire_shell_rubeus_asktgt_ptt_2020-09-21223848.cap"), "wire-overpass-the-hash",
			"pgustavo", "172.18.39.6", "172.18.38.5", host("empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json"), "credential-tool-command-line"},
		{"S5 PsExec over svcctl/TCP, source capture", pcap("empire_psexec_dcerpc_tcp_svcctl_WORKSTATION5_2020-09-20121608.cap"), "zeek-remote-service-creation",
			"pgustavo", "172.18.39.5", "172.18.39.6", host("empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json"), "remote-service-creation"},
		{"S5 PsExec over svcctl/TCP, target capture", pcap("empire_psexec_dcerpc_tcp_svcctl_WORKSTATION6_2020-09-20121608.cap"), "zeek-remote-service-creation",
			"", "172.18.39.5", "172.18.39.6", host("empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json"), "remote-service-creation"},
		{"S6 SharpSC over \\PIPE\\svcctl", pcap("covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.cap"), "zeek-remote-service-creation",
			// Its 5145s come before the installation: the one alert of the pair is smb-remote-execution's.
			"", "172.18.39.5", "172.18.39.6", host("covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json"), "smb-remote-execution"},
		{"S7 SAMR EnumDomainUsers", pcap("empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap"), "zeek-samr-domain-listing",
			"pgustavo", "172.18.39.5", "172.18.38.5", host("empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json"), "samr-enumeration"},
		{"S8 LDAP Domain Admins", pcap("covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.cap"), "zeek-ldap-recon",
			"pgustavo", "172.18.39.5", "172.18.38.5", host("covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.json"), "user-binary-to-domain-service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wire := detectAlerts(t, "--dc-addresses", "172.18.38.5", "--pcap", tt.pcap)
			if len(wire) != 1 || len(wire[tt.wireDetector]) != 1 {
				t.Fatalf("capture alerts %v, want one %s", wire, tt.wireDetector)
			}
			got := wire[tt.wireDetector][0]
			if src, dst := got.ip("ENTITY_ROLE_SOURCE_HOST"), got.ip("ENTITY_ROLE_TARGET"); src != tt.wantSrc || dst != tt.wantDst {
				t.Errorf("source %q target %q, want %q %q", src, dst, tt.wantSrc, tt.wantDst)
			}
			users := got.users()
			if (tt.wantUser == "" && len(users) != 0) || (tt.wantUser != "" && (!users[tt.wantUser] || len(users) != 1)) {
				t.Errorf("accounts %v, want %q", users, tt.wantUser)
			}
			hostAlerts := detectAlerts(t, tt.hostFile)[tt.hostDetector]
			if len(hostAlerts) == 0 {
				t.Fatalf("host logs raised no %s", tt.hostDetector)
			}
			sameUser, sameSrc := tt.wantUser == "", false
			for _, h := range hostAlerts {
				sameUser = sameUser || h.users()[tt.wantUser]
				hsrc := h.ip("ENTITY_ROLE_SOURCE_HOST")
				sameSrc = sameSrc || hsrc == tt.wantSrc || hsrc == ""
			}
			if !sameUser || !sameSrc {
				t.Errorf("host alerts %s %+v do not name %q from %s", tt.hostDetector, hostAlerts, tt.wantUser, tt.wantSrc)
			}
		})
	}
	t.Run("a capture named as a FILE", func(t *testing.T) {
		t.Parallel()
		got := detectAlerts(t, "--dc-addresses", "172.18.38.5", pcap("covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap"))
		if len(got) != 1 || len(got["zeek-drsuapi-replication"]) != 1 {
			t.Errorf("alerts %v, want one zeek-drsuapi-replication", got)
		}
	})
	t.Run("S12 background", func(t *testing.T) {
		t.Parallel()
		got := detectAlerts(t, "--dc-addresses", "172.18.38.5", "--pcap",
			filepath.Join(data, "otrf", "background", "purplesharp_ad_playbook_I_2020-10-22042947.cap"))
		for d, as := range got {
			if (d != "zeek-kerberos-rc4-tgs" && d != "zeek-ldap-recon") || len(as) != 1 {
				t.Errorf("background: %d %s alerts", len(as), d)
			}
		}
	})
}
