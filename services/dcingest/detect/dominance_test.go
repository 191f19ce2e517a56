package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

const (
	domZerologonFile = "otrf/more/lateral_movement/mimikatz_CVE-2020-1472_Unauthenticated_NetrServerAuthenticate2_2020-09-16233923.json"
	domNoPacFile     = "evtx-to-mitre-attack/ndjson/ID4768-4769-Kerberos host ticket without a trailing $.json"
)

// domDCs is a directory that knows which accounts are domain controllers.
type domDCs map[string]bool

func (d domDCs) IsDomainController(_, sam string) (isDC, known bool) {
	isDC, known = d[strings.ToLower(sam)]
	return isDC, known
}

// domCheck asserts one alert per want (in first-activity order): detector, technique, phase,
// the target entity's name (a computer's NetBIOS name or a user's sam) and the evidence count.
type domWant struct {
	target   string
	evidence int
	severity adjoinv1.Severity
}

func domCheck(t *testing.T, alerts []*adjoinv1.Alert, detector, technique string, phase adjoinv1.KillChainPhase, want ...domWant) {
	t.Helper()
	if len(alerts) != len(want) {
		for _, a := range alerts {
			t.Logf("got: %s", a.GetDescription())
		}
		t.Fatalf("%d alerts, want %d", len(alerts), len(want))
	}
	for i, w := range want {
		a := alerts[i]
		target := reconRef(a, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
		if got := strings.ToLower(target.GetNetbiosName() + target.GetSamAccountName()); got != w.target {
			t.Errorf("alert %d target = %q, want %q", i, got, w.target)
		}
		if a.GetDetector() != detector || a.GetKillChainPhase() != phase || a.GetMitreTechniques()[0] != technique ||
			a.GetSeverity() != w.severity || a.GetId() == "" || a.GetDescription() == "" {
			t.Errorf("alert %d fields: %v", i, a)
		}
		if n := len(a.GetEvidence()); n != w.evidence {
			t.Errorf("alert %d evidence = %d, want %d", i, n, w.evidence)
		}
		if reconRef(a, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST).GetDnsHostName() == "" {
			t.Errorf("alert %d has no destination host: %v", i, a.GetEntities())
		}
	}
}

func TestZerologon(t *testing.T) {
	t.Parallel()
	// mimikatz lsadump::zerologon /exploit against MORDORDC: one 4742 on MORDORDC$ by
	// ANONYMOUS LOGON; the other three 4742-free minutes are ordinary DC traffic.
	alerts := reconRun(t, domZerologonFile, func(*Sessions) detection.Detector { return NewZerologon(nil) })
	domCheck(t, alerts, "zerologon", "T1210", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "mordordc", evidence: 1, severity: adjoinv1.Severity_SEVERITY_HIGH})
}

func TestZerologonNetlogonEvents(t *testing.T) {
	t.Parallel()
	// Hand-written from Microsoft's KB4557222 event texts (no recording has NETLOGON events):
	// 5827 names the machine account in its message; 5805 the computer, repeated by the
	// exploit's retries.
	deny := `{"EventID":5827,"Channel":"System","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","ProviderName":"NETLOGON","Message":"The Netlogon service denied a vulnerable Netlogon secure channel connection from a machine account.\r\n\r\n\tMachine SamAccountName: DC01$\r\n\tDomain: corp.local\r\n\tAccount Type: Domain Controller"}`
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf(`{"EventID":5805,"Channel":"System","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:%02dZ","EventRecordID":%d,"ProviderName":"NETLOGON","Message":"The session setup from the computer DC01 failed to authenticate. The following error occurred: \r\nAccess is denied."}`, i, 100+i))
	}
	// The EVTX conversion keeps NETLOGON's unnamed insertion strings as a "Data" array.
	denyEVTX := `{"EventID":5828,"Channel":"System","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","ProviderName":"NETLOGON","Data":["CHILD$","corp.local","Trusted Domain"]}`
	mk := func(*Sessions) detection.Detector { return NewZerologon(nil) }
	domCheck(t, reconRunEvents(reconParse(t, denyEVTX), mk), "zerologon", "T1210", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "child", evidence: 1, severity: adjoinv1.Severity_SEVERITY_MEDIUM})
	allowed := func(second, account string) string {
		return `{"EventID":5829,"Channel":"System","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:0` + second + `Z","ProviderName":"NETLOGON","Data":["` + account + `","corp.local","Domain Member"]}`
	}
	// An old NAS in compatibility mode: low, and its repeats minutes apart stay one alert.
	domCheck(t, reconRunEvents(reconParse(t, allowed("0:00", "NAS01$"), allowed("3:00", "NAS01$"), allowed("6:00", "NAS01$")), mk),
		"zerologon", "T1210", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "nas01", evidence: 3, severity: adjoinv1.Severity_SEVERITY_LOW})
	domCheck(t, reconRunEvents(reconParse(t, deny), mk), "zerologon", "T1210", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "dc01", evidence: 1, severity: adjoinv1.Severity_SEVERITY_HIGH})
	domCheck(t, reconRunEvents(reconParse(t, lines...), mk), "zerologon", "T1210", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "dc01", evidence: 3, severity: adjoinv1.Severity_SEVERITY_HIGH})
	if alerts := reconRunEvents(reconParse(t, lines[:9]...), mk); len(alerts) != 0 {
		t.Errorf("9 failed session setups (under the threshold) alerted: %v", alerts)
	}
}

func TestSAMAccountNameSpoofing(t *testing.T) {
	t.Parallel()
	// noPac against rootdc1: a TGT for "rootdc1" (an account of RID 1296, not the DC) and the
	// S4U2self service ticket to ROOTDC1$ that follows: one alert.
	alerts := reconRun(t, domNoPacFile, func(*Sessions) detection.Detector { return NewSAMAccountNameSpoofing(nil) })
	domCheck(t, alerts, "samaccountname-spoofing", "T1068", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION,
		domWant{target: "rootdc1", evidence: 2, severity: adjoinv1.Severity_SEVERITY_HIGH})
	if ip := reconRef(alerts[0], adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST).GetIp(); ip != "10.23.123.11" {
		t.Errorf("source = %q, want 10.23.123.11", ip)
	}
}

func TestSAMAccountNameSpoofingRename(t *testing.T) {
	t.Parallel()
	// Hand-written (no recording has 4781): the rename step, to a DC name the directory knows
	// and to a name matching no DC; a rename that keeps the $ is ordinary.
	rename := func(old, renamed string) string {
		return `{"EventID":4781,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-12-14T14:42:40Z","OldTargetUserName":"` + old +
			`","NewTargetUserName":"` + renamed + `","TargetDomainName":"CORP","TargetSid":"S-1-5-21-1-2-3-1296","SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"lowpriv","SubjectDomainName":"CORP","SubjectLogonId":"0x4a2b1","PrivilegeList":"-"}`
	}
	mk := func(*Sessions) detection.Detector { return NewSAMAccountNameSpoofing(domDCs{"dc02$": true}) }
	domCheck(t, reconRunEvents(reconParse(t, rename("NEWPC$", "DC02"), rename("OTHER$", "notadc")), mk),
		"samaccountname-spoofing", "T1068", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION,
		domWant{target: "dc02", evidence: 1, severity: adjoinv1.Severity_SEVERITY_HIGH},
		domWant{target: "notadc", evidence: 1, severity: adjoinv1.Severity_SEVERITY_MEDIUM})
	if alerts := reconRunEvents(reconParse(t, rename("NEWPC$", "NEWPC2$")), mk); len(alerts) != 0 {
		t.Errorf("a rename keeping the $ alerted: %v", alerts)
	}
}

func TestDCPasswordReset(t *testing.T) {
	t.Parallel()
	// Hand-written (no recording has 4724 on a DC account): fields as Windows writes them.
	reset := func(target string) string {
		return `{"EventID":4724,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"eve","SubjectDomainName":"CORP","SubjectLogonId":"0x4a2b1","TargetUserName":"` + target + `","TargetDomainName":"CORP","TargetSid":"S-1-5-21-1-2-3-1000"}`
	}
	mk := func(s *Sessions) detection.Detector { return NewDCPasswordReset(domDCs{"dc02$": true}, s) }
	domCheck(t, reconRunEvents(reconParse(t, reset("DC01$"), reset("DC01$"), reset("DC02$")), mk),
		"dc-password-reset", "T1098", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "dc01", evidence: 1, severity: adjoinv1.Severity_SEVERITY_HIGH},
		domWant{target: "dc02", evidence: 1, severity: adjoinv1.Severity_SEVERITY_HIGH})
	if alerts := reconRunEvents(reconParse(t, reset("WS01$"), reset("alice")), mk); len(alerts) != 0 {
		t.Errorf("resets of a workstation and a user alerted: %v", alerts)
	}
	self := strings.NewReplacer(`"SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"eve"`, `"SubjectUserSid":"S-1-5-21-1-2-3-1000","SubjectUserName":"DC01$"`).Replace(reset("DC01$"))
	if alerts := reconRunEvents(reconParse(t, self), mk); len(alerts) != 0 {
		t.Errorf("the DC resetting its own password alerted: %v", alerts)
	}
}

func TestDCShadow(t *testing.T) {
	t.Parallel()
	// Hand-written (no public recording of lsadump::dcshadow): the workstation gets the GC and
	// DRSUAPI SPNs, its nTDSDSA object is created, then deleted after the push. One alert.
	const dsa = `CN=NTDS Settings,CN=WS01,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=local`
	obj := func(id, t string) string {
		return `{"EventID":` + id + `,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"` + t + `","SubjectUserSid":"S-1-5-18","SubjectUserName":"WS01$","SubjectDomainName":"CORP","SubjectLogonId":"0x3e7","DSName":"corp.local","DSType":"%%14676","ObjectDN":"` + dsa + `","ObjectGUID":"{5e1a5c2d-1111-2222-3333-444455556666}","ObjectClass":"nTDSDSA","AppCorrelationID":"-"}`
	}
	spn := `{"EventID":4742,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","SubjectUserSid":"S-1-5-21-1-2-3-500","SubjectUserName":"Administrator","SubjectDomainName":"CORP","SubjectLogonId":"0x5b2c1","TargetUserName":"WS01$","TargetDomainName":"CORP","TargetSid":"S-1-5-21-1-2-3-1120","ServicePrincipalNames":"GC/WS01.corp.local/corp.local\r\n\t\tE3514235-4B06-11D1-AB04-00C04FC2DCD2/5e1a5c2d-1111-2222-3333-444455556666/corp.local\r\n\t\tHOST/WS01.corp.local","PasswordLastSet":"-","SamAccountName":"-"}`
	mk := func(*Sessions) detection.Detector { return NewDCShadow(nil) }
	domCheck(t, reconRunEvents(reconParse(t, spn, obj("5137", "2021-03-01T10:00:01Z"), obj("5141", "2021-03-01T10:00:09Z")), mk),
		"dcshadow", "T1207", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		domWant{target: "ws01", evidence: 3, severity: adjoinv1.Severity_SEVERITY_HIGH})
	own := strings.ReplaceAll(spn, "WS01", "DC01")
	if alerts := reconRunEvents(reconParse(t, own), mk); len(alerts) != 0 {
		t.Errorf("the DC's own SPNs alerted: %v", alerts)
	}
}

// domAttr is a hand-written 5136 value-added event (fields as Windows writes them).
func domAttr(attr, class, dn, value string) string {
	return `{"EventID":5136,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","OpCorrelationID":"{0c1d2e3f-0000-1111-2222-333344445555}","AppCorrelationID":"-","SubjectUserSid":"S-1-5-21-1-2-3-1105","SubjectUserName":"eve","SubjectDomainName":"CORP","SubjectLogonId":"0x4a2b1","DSName":"corp.local","DSType":"%%14676","ObjectDN":"` + dn +
		`","ObjectGUID":"{aaaabbbb-cccc-dddd-eeee-ffff00001111}","ObjectClass":"` + class + `","AttributeLDAPDisplayName":"` + attr + `","AttributeSyntaxOID":"2.5.5.12","AttributeValue":"` + value + `","OperationType":"%%14674"}`
}

func TestAttributeWrites(t *testing.T) {
	t.Parallel()
	// Hand-written: no public recording has these 5136 writes (the OTRF README lists RBCD,
	// SID history and targeted Kerberoasting as missing).
	tests := []struct {
		name, detector, technique string
		mk                        func(*Sessions) detection.Detector
		lines                     []string
		target                    string
		phase                     adjoinv1.KillChainPhase
	}{
		{"RBCD on a server", "rbcd-configured", "T1098", func(s *Sessions) detection.Detector { return NewRBCDConfigured(nil, s) },
			[]string{domAttr("msDS-AllowedToActOnBehalfOfOtherIdentity", "computer", "CN=FS01,OU=Servers,DC=corp,DC=local", "O:S-1-5-32-544D:(A;;0xf01ff;;;S-1-5-21-1-2-3-1131)")},
			"fs01", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"RBCD, OperationType rendered as text", "rbcd-configured", "T1098", func(s *Sessions) detection.Detector { return NewRBCDConfigured(nil, s) },
			[]string{strings.Replace(domAttr("msDS-AllowedToActOnBehalfOfOtherIdentity", "computer", "CN=FS01,OU=Servers,DC=corp,DC=local", "-"), "%%14674", "Value Added", 1)},
			"fs01", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION},
		{"SPN on a user", "spn-added-to-user", "T1558.003", func(s *Sessions) detection.Detector { return NewSPNAddedToUser(nil, s) },
			[]string{domAttr("servicePrincipalName", "user", "CN=Alice,CN=Users,DC=corp,DC=local", "fake/alice.corp.local"),
				domAttr("servicePrincipalName", "user", "CN=Alice,CN=Users,DC=corp,DC=local", "fake2/alice.corp.local")},
			"", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS},
		{"sIDHistory", "sid-history-added", "T1134.005", func(s *Sessions) detection.Detector { return NewSIDHistoryAdded(nil, s) },
			[]string{domAttr("sIDHistory", "user", "CN=Alice,CN=Users,DC=corp,DC=local", "S-1-5-21-1-2-3-512")},
			"", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE},
		{"4765", "sid-history-added", "T1134.005", func(s *Sessions) detection.Detector { return NewSIDHistoryAdded(nil, s) },
			[]string{`{"EventID":4765,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","SourceUserName":"OLD\\admin","SourceSid":"S-1-5-21-9-9-9-500","TargetUserName":"alice","TargetDomainName":"CORP","TargetSid":"S-1-5-21-1-2-3-1104","SubjectUserSid":"S-1-5-21-1-2-3-500","SubjectUserName":"Administrator","SubjectDomainName":"CORP","SubjectLogonId":"0x5b2c1","PrivilegeList":"-","SidList":"%{S-1-5-21-9-9-9-500}"}`},
			"alice", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			domCheck(t, reconRunEvents(reconParse(t, tt.lines...), tt.mk), tt.detector, tt.technique, tt.phase,
				domWant{target: tt.target, evidence: len(tt.lines), severity: adjoinv1.Severity_SEVERITY_HIGH})
		})
	}
	// Negative: an SPN on a computer, a value deleted, a 4738 that leaves SidHistory unset.
	quiet := map[string][]string{
		"spn-added-to-user": {domAttr("servicePrincipalName", "computer", "CN=WS01,CN=Computers,DC=corp,DC=local", "HOST/WS01"),
			strings.Replace(domAttr("servicePrincipalName", "user", "CN=Alice,CN=Users,DC=corp,DC=local", "x/y"), "%%14674", "%%14675", 1)},
		"sid-history-added": {`{"EventID":4738,"Channel":"Security","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:00Z","TargetUserName":"alice","TargetDomainName":"CORP","TargetSid":"S-1-5-21-1-2-3-1104","SubjectUserSid":"S-1-5-21-1-2-3-500","SubjectUserName":"Administrator","SubjectDomainName":"CORP","SubjectLogonId":"0x5b2c1","SidHistory":"-","DisplayName":"Alice A."}`},
	}
	for name, lines := range quiet {
		var d detection.Detector = NewSPNAddedToUser(nil, nil)
		if name == "sid-history-added" {
			d = NewSIDHistoryAdded(nil, nil)
		}
		if alerts := reconRunEvents(reconParse(t, lines...), func(*Sessions) detection.Detector { return d }); len(alerts) != 0 {
			t.Errorf("%s alerted on ordinary changes: %v", name, alerts)
		}
	}
}
