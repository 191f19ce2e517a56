package wire

import (
	"os"
	"path/filepath"
	"testing"
)

const pcapDir = "../../../../shared/data/otrf/pcap/"

// readAll decodes a capture of ../shared/data and returns its records and counters.
func readAll(t *testing.T, path string, cfg Config) ([]Record, Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	st, err := ReadPcap(f, cfg, func(r Record) { recs = append(recs, r) })
	if err != nil {
		t.Fatal(err)
	}
	return recs, st
}

// has reports whether a record of log has every field of want.
func has(recs []Record, log string, want map[string]string) bool {
	for _, r := range recs {
		if r.Log != log {
			continue
		}
		ok := true
		for k, v := range want {
			if r.Fields[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestOTRFCaptures checks, on each capture of otrf/pcap, the exchange its README names as
// the attack, with the entities the host logs of the same attack show.
func TestOTRFCaptures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, log string
		want            map[string]string
	}{
		{"S1 DCSync DRSGetNCChanges", "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap", "dce_rpc",
			map[string]string{"endpoint": "drsuapi", "operation": "DRSGetNCChanges", "id.orig_h": "172.18.39.5", "id.resp_h": "172.18.38.5", "id.resp_p": "49674", "client": "pgustavo@THESHIRE.LOCAL"}},
		{"S1 service ticket for the DC", "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap", "kerberos",
			map[string]string{"request_type": "TGS", "client": "pgustavo/THESHIRE.LOCAL", "service": "ldap/MORDORDC", "success": "T"}},
		{"S3 Rubeus asktgt RC4 only", "empire_shell_rubeus_asktgt_ptt_2020-09-21223848.cap", "kerberos",
			map[string]string{"request_type": "AS", "client": "pgustavo/THESHIRE.LOCAL", "req_etypes": "23", "preauth": "T", "reply_cipher": "rc4-hmac", "id.orig_h": "172.18.39.6"}},
		{"S5 CreateServiceA over TCP (source capture)", "empire_psexec_dcerpc_tcp_svcctl_WORKSTATION5_2020-09-20121608.cap", "dce_rpc",
			map[string]string{"endpoint": "svcctl", "operation": "CreateServiceA", "id.orig_h": "172.18.39.5", "id.resp_h": "172.18.39.6", "client": "pgustavo@THESHIRE.LOCAL"}},
		{"S5 CreateServiceA over TCP (target capture)", "empire_psexec_dcerpc_tcp_svcctl_WORKSTATION6_2020-09-20121608.cap", "dce_rpc",
			map[string]string{"endpoint": "svcctl", "operation": "CreateServiceA", "id.orig_h": "172.18.39.5", "id.resp_h": "172.18.39.6"}},
		{"S6 CreateServiceA over \\PIPE\\svcctl", "covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.cap", "dce_rpc",
			map[string]string{"endpoint": "svcctl", "operation": "CreateServiceA", "named_pipe": "svcctl", "id.orig_h": "172.18.39.5", "id.resp_h": "172.18.39.6"}},
		{"S6 IPC$ mapping", "covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.cap", "smb_mapping",
			map[string]string{"path": `\\WORKSTATION6\IPC$`, "share_type": "PIPE"}},
		{"S7 SAMR EnumerateUsers", "empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap", "dce_rpc",
			map[string]string{"endpoint": "samr", "operation": "SamrEnumerateUsersInDomain", "named_pipe": "samr", "id.orig_h": "172.18.39.5", "client": "pgustavo@THESHIRE.LOCAL"}},
		{"S8 Domain Admins search", "covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.cap", "ldap_search",
			map[string]string{"base_object": "DC=theshire,DC=local", "scope": "tree", "filter": "(&(objectCategory=group)(|(samAccountName=Domain Admins)))", "id.orig_h": "172.18.39.5", "client": "pgustavo@THESHIRE.LOCAL"}},
		{"S8 SASL bind by pgustavo", "covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.cap", "ldap",
			map[string]string{"opcode": "bind SASL", "result": "success", "object": "pgustavo@THESHIRE.LOCAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, st := readAll(t, pcapDir+tt.file, Config{})
			if !has(recs, tt.log, tt.want) {
				for _, r := range recs {
					t.Logf("%s %v", r.Log, r.Fields)
				}
				t.Fatalf("no %s record with %v (stats %+v)", tt.log, tt.want, st)
			}
		})
	}
}

// TestEveryCaptureDecodes reads every capture of ../shared/data and checks that each gives
// records, that the first counters add up, and that the truncated S1 file ends cleanly.
func TestEveryCaptureDecodes(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(pcapDir + "*.cap")
	files = append(files, "../../../../shared/data/otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.cap")
	if len(files) != 8 {
		t.Fatalf("want the 8 captures of ../shared/data, found %d", len(files))
	}
	for _, f := range files {
		recs, st := readAll(t, f, Config{})
		if len(recs) == 0 || st.Records != uint64(len(recs)) || st.Packets == 0 || st.DroppedFlows != 0 {
			t.Errorf("%s: %d records, stats %+v", filepath.Base(f), len(recs), st)
		}
		for _, r := range recs {
			if r.Fields["uid"] == "" || r.Fields["id.orig_h"] == "" || r.Time.IsZero() {
				t.Errorf("%s: record without connection or time: %v", filepath.Base(f), r)
			}
		}
	}
}

// TestFlowBound: with room for one connection only, the others are counted as dropped and
// give no records, and the first one still decodes.
func TestFlowBound(t *testing.T) {
	t.Parallel()
	all, _ := readAll(t, pcapDir+"empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap", Config{})
	one, st := readAll(t, pcapDir+"empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap", Config{MaxFlows: 1})
	if st.DroppedFlows == 0 || len(one) >= len(all) {
		t.Fatalf("MaxFlows 1: %d records of %d, stats %+v", len(one), len(all), st)
	}
}
