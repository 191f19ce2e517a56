package sambaaudit

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

const (
	domainSID = "S-1-5-21-3936881895-3070845151-3360841461"
	dcHost    = "adjoindc.adjoin.test"
)

// firstEvent returns the first event of the scenario sample for which match holds.
func firstEvent(t *testing.T, match func(e *Event) bool) *Event {
	t.Helper()
	for _, e := range sampleEvents(t, sampleScenario) {
		if match(e) {
			return e
		}
	}
	t.Fatal("no such event in the sample")
	return nil
}

// auth matches an Authentication event by its client account, service and status.
func auth(account, service, status string) func(*Event) bool {
	return func(e *Event) bool {
		return e.Type == "Authentication" && str(e.Body, "clientAccount") == account &&
			str(e.Body, "serviceDescription") == service && str(e.Body, "status") == status
	}
}

func TestAdjoinMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		match       func(*Event) bool
		wantChannel string
		wantID      int32
		want        map[string]string // fields that must hold these values
		wantAbsent  []string          // fields that must not be set
	}{
		{"Kerberos TGT", auth("sa_frodo@ADJOIN.TEST", "Kerberos KDC", "NT_STATUS_OK"), "Security", 4768,
			map[string]string{"TargetUserName": "sa_frodo", "TargetDomainName": "ADJOIN", "TargetSid": domainSID + "-1191",
				"Status": "0x0", "PreAuthType": "2", "IpAddress": "fd00::2", "samba.eventId": "4624",
				"samba.passwordType": "aes256-cts-hmac-sha1-96", "samba.type": "Authentication"},
			[]string{"LogonType", "TicketEncryptionType", "samba.workstation"}},
		{"Kerberos wrong password", auth("sa_spray01@ADJOIN.TEST", "Kerberos KDC", "NT_STATUS_WRONG_PASSWORD"), "Security", 4771,
			map[string]string{"TargetUserName": "sa_spray01", "TargetSid": domainSID + "-1178", "Status": "0x18", "PreAuthType": "2",
				"IpAddress": "192.0.2.2", "samba.eventId": "4625"}, nil},
		{"Kerberos unknown name", auth("sa_ghost01@ADJOIN.TEST", "Kerberos KDC", "NT_STATUS_NO_SUCH_USER"), "Security", 4768,
			map[string]string{"TargetUserName": "sa_ghost01", "TargetDomainName": "ADJOIN.TEST", "Status": "0x6", "IpAddress": "192.0.2.2",
				"samba.authDescription": "AS-REQ"}, []string{"TargetSid", "PreAuthType"}},
		{"NTLM wrong password over SMB", auth("sa_bilbo", "SMB2", "NT_STATUS_WRONG_PASSWORD"), "Security", 4625,
			map[string]string{"TargetUserName": "sa_bilbo", "TargetDomainName": "ADJOIN", "Status": "0xc000006d", "SubStatus": "0xc000006a",
				"LogonType": "3", "WorkstationName": "SA-KALI", "AuthenticationPackageName": "NTLM", "LmPackageName": "NTLM V2",
				"IpAddress": "fd00::2"}, []string{"TargetUserSid", "TargetLogonId"}},
		{"NTLM logon over SMB", auth("sa_frodo", "SMB2", "NT_STATUS_OK"), "Security", 4624,
			map[string]string{"TargetUserName": "sa_frodo", "TargetUserSid": domainSID + "-1191", "LogonType": "3",
				"WorkstationName": "SA-BAGEND", "AuthenticationPackageName": "NTLM", "IpAddress": "fd00::2"}, []string{"Status"}},
		{"LDAPS simple bind", auth("sa_sam@adjoin.test", "LDAP", "NT_STATUS_OK"), "Security", 4624,
			map[string]string{"TargetUserName": "sa_sam", "TargetDomainName": "ADJOIN", "TargetUserSid": domainSID + "-1192",
				"LogonType": "8", "samba.authDescription": "simple bind/TLS", "samba.workstation": "ADJOINDC", "samba.passwordType": "Plaintext"},
			[]string{"WorkstationName", "AuthenticationPackageName"}},
		{"Domain Admins addition", func(e *Event) bool { return str(e.Body, "group") == "CN=Domain Admins,CN=Users,DC=adjoin,DC=test" },
			"Security", 4728,
			map[string]string{"TargetUserName": "Domain Admins", "MemberName": "CN=sa_merry,CN=Users,DC=adjoin,DC=test",
				"SubjectUserSid": domainSID + "-500", "IpAddress": "127.0.0.1", "samba.action": "Added"}, []string{"MemberSid", "TargetSid"}},
		{"primary group, no Windows id", func(e *Event) bool { return str(e.Body, "action") == "PrimaryGroup" }, "samba/groupChange", 0,
			map[string]string{"SubjectUserSid": domainSID + "-500", "samba.group": "CN=Domain Users,CN=Users,DC=adjoin,DC=test"},
			[]string{"TargetUserName", "MemberName", "ObjectDN"}},
		{"password reset", func(e *Event) bool {
			return e.Type == "passwordChange" && str(e.Body, "dn") == "CN=sa_pippin,CN=Users,DC=adjoin,DC=test"
		}, "Security", 4724,
			map[string]string{"TargetUserName": "sa_pippin", "ObjectDN": "CN=sa_pippin,CN=Users,DC=adjoin,DC=test",
				"SubjectUserSid": domainSID + "-500", "samba.action": "Reset"}, nil},
		{"directory change", func(e *Event) bool { return e.Type == "dsdbChange" && str(e.Body, "operation") == "Add" }, "samba/dsdbChange", 0,
			map[string]string{"ObjectDN": "CN=sa_spray01,CN=Users,DC=adjoin,DC=test", "SubjectUserSid": domainSID + "-500",
				"samba.operation": "Add", "samba.version": `{"major":1,"minor":0}`}, []string{"TargetUserName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := firstEvent(t, tt.match)
			ev := e.Adjoin(dcHost)
			if ev.GetChannel() != tt.wantChannel || ev.GetEventId() != tt.wantID || ev.GetFormat() != Format ||
				ev.GetHost() != dcHost || !ev.GetTime().AsTime().Equal(e.Time) {
				t.Fatalf("envelope = %s %d %s %s %v", ev.GetChannel(), ev.GetEventId(), ev.GetFormat(), ev.GetHost(), ev.GetTime().AsTime())
			}
			f := ev.GetFields()
			for k, v := range tt.want {
				if f[k] != v {
					t.Errorf("%s = %q, want %q", k, f[k], v)
				}
			}
			for _, k := range tt.wantAbsent {
				if v, ok := f[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
		})
	}
}

// Every field of Samba's object is kept under samba., so nothing is lost.
func TestAdjoinKeepsEverySambaField(t *testing.T) {
	t.Parallel()
	for _, e := range sampleEvents(t, sampleScenario) {
		f := e.Adjoin(dcHost).GetFields()
		for k, v := range e.Body {
			got, ok := f["samba."+k]
			if v == nil {
				if ok {
					t.Errorf("%s: null samba.%s kept as %q", e.Type, k, got)
				}
				continue
			}
			want, _ := value(v)
			if got != want {
				t.Errorf("%s: samba.%s = %q, want %q", e.Type, k, got, want)
			}
		}
		if f["samba.type"] != e.Type {
			t.Errorf("samba.type = %q, want %q", f["samba.type"], e.Type)
		}
	}
}

// Authorization events are not in the samples (auth_json_audit:3 does not log them); this one
// has the fields Samba 4.17's log_successful_authz_event_json writes.
func TestAdjoinAuthorization(t *testing.T) {
	t.Parallel()
	line := `  {"timestamp": "2026-11-28T10:05:00.301000+0000", "type": "Authorization", "Authorization": {"version": {"major": 1, "minor": 1}, ` +
		`"localAddress": "ipv6:::1:445", "remoteAddress": "ipv6:fd00::2:42980", "serviceDescription": "SMB2", "authType": "krb5", ` +
		`"domain": "ADJOIN", "account": "sa_sam", "sid": "` + domainSID + `-1192", "sessionId": "5f0c0c57-6d2a-4d7e-9c4a-1d3c9f0b7a11", ` +
		`"logonServer": "ADJOINDC", "transportProtection": "SMB", "accountFlags": "0x00000010"}}`
	kind, e, err := Parse([]byte(line))
	if err != nil || kind != AuditEvent {
		t.Fatalf("Parse: %s %v", kind, err)
	}
	ev := e.Adjoin(dcHost)
	want := map[string]string{"TargetUserName": "sa_sam", "TargetDomainName": "ADJOIN", "TargetUserSid": domainSID + "-1192",
		"AuthenticationPackageName": "krb5", "IpAddress": "fd00::2", "IpPort": "42980"}
	if ev.GetChannel() != "samba/Authorization" || ev.GetEventId() != 0 {
		t.Errorf("channel %s id %d", ev.GetChannel(), ev.GetEventId())
	}
	for k, v := range want {
		if ev.GetFields()[k] != v {
			t.Errorf("%s = %q, want %q", k, ev.GetFields()[k], v)
		}
	}
}

func TestKerberosAndLogonStatus(t *testing.T) {
	t.Parallel()
	type result struct {
		id     int32
		fields map[string]string
	}
	tests := map[string]result{
		"NT_STATUS_ACCOUNT_DISABLED":      {4768, map[string]string{"Status": "0x12"}},
		"NT_STATUS_ACCOUNT_LOCKED_OUT":    {4768, map[string]string{"Status": "0x12"}},
		"NT_STATUS_PASSWORD_EXPIRED":      {4768, map[string]string{"Status": "0x17"}},
		"NT_STATUS_TIME_DIFFERENCE_AT_DC": {4771, map[string]string{"Status": "0x25"}},
		"NT_STATUS_NO_LOGON_SERVERS":      {4768, map[string]string{}},
		"NT code 0xc0000388":              {4768, map[string]string{}},
	}
	for status, want := range tests {
		body := map[string]any{"serviceDescription": "Kerberos KDC", "status": status, "clientAccount": "x@ADJOIN.TEST", "eventId": json.Number("4625")}
		ev := (&Event{Type: "Authentication", Body: body}).Adjoin(dcHost)
		got := map[string]string{}
		if s, ok := ev.GetFields()["Status"]; ok {
			got["Status"] = s
		}
		if ev.GetEventId() != want.id || !maps.Equal(got, want.fields) {
			t.Errorf("%s: %d %v, want %d %v", status, ev.GetEventId(), got, want.id, want.fields)
		}
	}
	logon := map[string][2]string{
		"NT_STATUS_ACCOUNT_DISABLED":   {"0xc000006e", "0xc0000072"},
		"NT_STATUS_ACCOUNT_LOCKED_OUT": {"0xc0000234", "0x0"},
		"NT_STATUS_NO_SUCH_USER":       {"0xc000006d", "0xc0000064"},
		"NT_STATUS_PASSWORD_EXPIRED":   {"0xc000006e", "0xc0000071"},
		"NT code 0xc0000388":           {"0xc0000388", "0x0"},
	}
	for status, want := range logon {
		body := map[string]any{"serviceDescription": "SMB2", "status": status, "clientAccount": "x"} // no eventId: from status
		ev := (&Event{Type: "Authentication", Body: body}).Adjoin(dcHost)
		f := ev.GetFields()
		if ev.GetEventId() != 4625 || f["Status"] != want[0] || f["SubStatus"] != want[1] {
			t.Errorf("%s: %d %s/%s, want 4625 %s/%s", status, ev.GetEventId(), f["Status"], f["SubStatus"], want[0], want[1])
		}
	}
}

func TestAddressParts(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"ipv4:192.0.2.2:45327":  {"192.0.2.2", "45327"},
		"ipv6:fd00::2:47419":    {"fd00::2", "47419"},
		"ipv6:::1:445":          {"::1", "445"},
		"ipv4:127.0.0.1:0":      {"127.0.0.1", "0"},
		"unix:/run/samba/x":     {"", ""},
		"ipv4:not-an-address:1": {"", ""},
		"":                      {"", ""},
	} {
		ip, port := addressParts(in)
		if ip != want[0] || port != want[1] {
			t.Errorf("addressParts(%q) = %q %q, want %q", in, ip, port, want)
		}
	}
}

func TestFirstCN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"CN=Domain Admins,CN=Users,DC=adjoin,DC=test": "Domain Admins",
		`CN=Baggins\, Frodo,CN=Users,DC=x`:            "Baggins, Frodo",
		"cn=Administrators,CN=Builtin,DC=x":           "Administrators",
		"OU=Admins,DC=x":                              "",
		"":                                            "",
	} {
		if got := firstCN(in); got != want {
			t.Errorf("firstCN(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(firstCN("CN=x"), "x") {
		t.Error("firstCN of a one-RDN DN")
	}
}
