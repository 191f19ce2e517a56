package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// zeekTGSLine is a kerberos.log TGS record in the APT29 sensors' format; every real one in the
// samples has cipher aes256-cts-hmac-sha1-96, so the RC4 cases change only the cipher and the
// service of a real pbeesly request.
func zeekTGSLine(sensor, ts, uid, client, service, cipher, success string) string {
	extra := `"request_type":"TGS","client":"` + client + `","service":"` + service + `","success":` + success +
		`,"till":2136422885.0,"forwardable":true,"renewable":true`
	if cipher != "" {
		extra += `,"cipher":"` + cipher + `"`
	}
	return zeekJSONLine("kerberos", sensor, ts, uid, "10.0.1.4", "60700", "10.0.0.4", "88", extra)
}

func TestZeekKerberosRC4(t *testing.T) {
	t.Parallel()
	const pbeesly = "pbeesly/DMEVALS.LOCAL"
	tests := []struct {
		name         string
		lines        []string
		wantSummary  []string
		wantEvidence []int
	}{
		{
			name: "pbeesly asks two user services for RC4 tickets, both sensors see it: one alert, two tickets",
			lines: []string{
				zeekTGSLine("simplerockbuild.simplerock.lan", "1588206000.100", "Cs1", pbeesly, "MSSQLSvc/sql01.dmevals.local:1433", "rc4-hmac", "true"),
				zeekTGSLine("test-nsm", "1588206000.104", "Cn1", pbeesly, "MSSQLSvc/sql01.dmevals.local:1433", "rc4-hmac", "true"),
				zeekTGSLine("simplerockbuild.simplerock.lan", "1588206002.500", "Cs2", pbeesly, "HTTP/intranet.dmevals.local", "rc4-hmac", "true"),
				zeekTGSLine("test-nsm", "1588206002.507", "Cn2", pbeesly, "HTTP/intranet.dmevals.local", "rc4-hmac", "true"),
			},
			wantSummary: []string{`user=dmevals.local\pbeesly src=10.0.1.4 dst=10.0.0.4`}, wantEvidence: []int{2},
		},
		{
			name: "RC4 variants, a bare user principal, and request_type unset as in LSASS_campaign_01",
			lines: []string{
				zeekTGSLine("s", "1588206000.1", "C1", "mscott/dmevals", "svc_backup", "RC4-HMAC-EXP", "true"),
				strings.Replace(zeekTGSLine("s", "1588206009.1", "C2", "mscott/dmevals", "MSSQLSvc/sql01", "rc4-hmac", "true"), `"request_type":"TGS",`, "", 1),
			},
			wantSummary: []string{`user=dmevals\mscott src=10.0.1.4 dst=10.0.0.4`}, wantEvidence: []int{2},
		},
		{
			name: "a different client from the same address is another alert",
			lines: []string{
				zeekTGSLine("s", "1588206000.1", "C1", pbeesly, "MSSQLSvc/sql01", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.2", "C2", "dschrute/DMEVALS.LOCAL", "MSSQLSvc/sql01", "rc4-hmac", "true"),
			},
			wantSummary:  []string{`user=dmevals.local\pbeesly src=10.0.1.4 dst=10.0.0.4`, `user=dmevals.local\dschrute src=10.0.1.4 dst=10.0.0.4`},
			wantEvidence: []int{1, 1},
		},
		{
			name: "computer services, AES, failures and AS requests are silent",
			lines: []string{
				zeekTGSLine("s", "1588206000.1", "C1", pbeesly, "krbtgt/DMEVALS.LOCAL", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.2", "C2", pbeesly, "cifs/NASHUA", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.3", "C3", pbeesly, "host/nashua.dmevals.local", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.4", "C4", pbeesly, "LDAP/NEWYORK.dmevals.local/dmevals.local", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.5", "C5", "dschrute/DMEVALS", "utica$@DMEVALS.LOCAL", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.6", "C6", "UTICA$/DMEVALS.LOCAL", "UTICA$", "rc4-hmac", "true"),
				zeekTGSLine("s", "1588206000.7", "C7", pbeesly, "MSSQLSvc/sql01", "aes256-cts-hmac-sha1-96", "true"),
				zeekTGSLine("s", "1588206000.8", "C8", pbeesly, "MSSQLSvc/sql01", "rc4-hmac", "false"),
				zeekTGSLine("s", "1588206000.9", "C9", pbeesly, "MSSQLSvc/sql01", "", "true"),
				strings.Replace(zeekTGSLine("s", "1588206001.0", "C10", pbeesly, "MSSQLSvc/sql01", "rc4-hmac", "true"), `"TGS"`, `"AS"`, 1),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var events []*adjoinv1.Event
			for _, l := range tt.lines {
				events = append(events, zeekLine(t, l))
			}
			alerts := zeekRun([]detection.Detector{NewZeekKerberosRC4()}, events)
			var got []string
			for i, a := range alerts {
				got = append(got, zeekSummary(a))
				if i < len(tt.wantEvidence) && len(a.GetEvidence()) != tt.wantEvidence[i] {
					t.Errorf("alert %d: %d evidence, want %d", i, len(a.GetEvidence()), tt.wantEvidence[i])
				}
				if a.GetMitreTechniques()[0] != "T1558.003" || a.GetDetector() != "zeek-kerberos-rc4-tgs" ||
					a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS || a.GetId() == "" {
					t.Errorf("alert fields: %v", a)
				}
				for _, e := range a.GetEvidence() {
					if !strings.HasPrefix(strings.ToLower(e.GetFields()["cipher"]), "rc4") || e.GetFields()["service"] == "" {
						t.Errorf("evidence %v", e)
					}
				}
			}
			if strings.Join(got, ";") != strings.Join(tt.wantSummary, ";") {
				t.Errorf("alerts = %q, want %q", got, tt.wantSummary)
			}
		})
	}
}

func TestZeekKerberosRC4SilentOnSamples(t *testing.T) {
	t.Parallel()
	events := zeekSampleEvents(t, true, "apt29_day1/*kerberos.log", "apt29_day2/*kerberos.log", "LSASS_campaign_01/kerberos.log")
	tgs, aes := 0, 0
	for _, ev := range events {
		f := ev.GetFields()
		if _, set := f["request_type"]; f["request_type"] == "TGS" || (!set && f["service"] != "" && !strings.HasPrefix(f["service"], "krbtgt/")) {
			tgs++
		}
		if f["cipher"] == "aes256-cts-hmac-sha1-96" {
			aes++
		}
	}
	// Every issued ticket in the samples is AES256; the LSASS_campaign_01 TSV leaves
	// request_type unset, so its service tickets are only recognisable by their SPN.
	if len(events) != 131 || tgs != 64 || aes != 64 {
		t.Errorf("%d kerberos records, %d service-ticket requests, %d AES256 tickets; want 131, 64, 64", len(events), tgs, aes)
	}
	events = append(events, zeekWindowsEvents(t)...)
	if alerts := zeekRun([]detection.Detector{NewZeekKerberosRC4()}, events); len(alerts) != 0 {
		t.Errorf("alerts on the samples: %v", alerts)
	}
}
