package detect

import (
	"fmt"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

func accountEnumDetector(*Sessions) detection.Detector { return NewAccountEnumeration() }

func TestAccountEnumerationOnRecordings(t *testing.T) {
	t.Parallel()
	const kerbrute = "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json"
	tests := []struct {
		name string
		file string
		mk   func(*Sessions) detection.Detector
		want []reconWant
	}{
		{
			// 15 disabled names (4768 0x12: Administrator, Guest, krbtgt, DefaultAccount,
			// Test-ADM, ten SM_* mailboxes) in 3.6 s; the episode starts at the 10th, so 6
			// events are evidence. The 22 wrong passwords (4771 0x18) are password spraying and
			// the 5 successes are not counted.
			name: "S13 Kerbrute from 10.23.123.11 against rootdc1",
			file: kerbrute,
			mk:   accountEnumDetector,
			want: []reconWant{{sourceIP: "10.23.123.11", target: "rootdc1.offsec.lan", evidence: 6}},
		},
		{
			name: "S13 Kerbrute with wrong passwords counted too: 37 names, 28 events of evidence",
			file: kerbrute,
			mk: func(*Sessions) detection.Detector {
				d := NewAccountEnumeration()
				d.KerberosFailures[0x18] = "KDC_ERR_PREAUTH_FAILED"
				return d
			},
			want: []reconWant{{sourceIP: "10.23.123.11", target: "rootdc1.offsec.lan", evidence: 28}},
		},
		{
			name: "S13 Kerbrute counting only KDC_ERR_C_PRINCIPAL_UNKNOWN: the lab logged none",
			file: kerbrute,
			mk: func(*Sessions) detection.Detector {
				d := NewAccountEnumeration()
				d.KerberosFailures = map[uint64]string{0x6: "KDC_ERR_C_PRINCIPAL_UNKNOWN"}
				return d
			},
		},
		{
			name: "S13 Kerbrute below a threshold of 16 names: silent",
			file: kerbrute,
			mk:   func(*Sessions) detection.Detector { d := NewAccountEnumeration(); d.Threshold = 16; return d },
		},
		{name: "S13 Kerberos brute force: 54 failures for one account", file: "evtx-to-mitre-attack/ndjson/ID4771-Kerberos brutforce with valid user.json", mk: accountEnumDetector},
		{name: "S13 AS-REP roasting", file: "evtx-to-mitre-attack/ndjson/ID4768-Kerberos AS-REP Roasting.json", mk: accountEnumDetector},
		{name: "S13 Kerberoasting (one 0x25 failure)", file: "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json", mk: accountEnumDetector},
		{name: "S13 noPac", file: "evtx-to-mitre-attack/ndjson/ID4768-4769-Kerberos host ticket without a trailing $.json", mk: accountEnumDetector},
		{name: "S3 Rubeus asktgt (successful RC4 4768)", file: "otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json", mk: accountEnumDetector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reconCheck(t, reconRun(t, tt.file, tt.mk), "account-enumeration", []string{"T1087.002"}, tt.want)
		})
	}
}

func TestAccountEnumerationNTLM(t *testing.T) {
	t.Parallel()
	// Hand-written: the only recorded 4776 failures are in the S12 background, which is not
	// asserted on. 4776 names the client only by workstation, so the burst is keyed by it.
	line := func(user, status string, sec int) string {
		return fmt.Sprintf(`{"EventID":4776,"Channel":"Security","Hostname":"MORDORDC.theshire.local","EventTime":"2020-10-22 04:29:%02d","@timestamp":"2020-10-22T08:29:%02d.000Z","PackageName":"MICROSOFT_AUTHENTICATION_PACKAGE_V1_0","TargetUserName":"%s","Workstation":"WORKSTATION5","Status":"%s"}`, sec, sec, user, status)
	}
	var unknown, wrong []string
	for i := range 12 {
		unknown = append(unknown, line(fmt.Sprint("user", i), "0xc0000064", i))
		wrong = append(wrong, line(fmt.Sprint("user", i), "0xc000006a", i)) // wrong password: password-spray's
	}
	if got := reconRunEvents(reconParse(t, wrong...), accountEnumDetector); len(got) != 0 {
		t.Errorf("wrong passwords alerted: %v", got)
	}
	reconCheck(t, reconRunEvents(reconParse(t, unknown...), accountEnumDetector), "account-enumeration", []string{"T1087.002"},
		[]reconWant{{source: "workstation5", target: "mordordc.theshire.local", evidence: 3}})
}

func TestAccountEnumerationAlertIDIsStableAcrossReplays(t *testing.T) {
	t.Parallel()
	file := "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json"
	if a, b := reconIDs(reconRun(t, file, accountEnumDetector)), reconIDs(reconRun(t, file, accountEnumDetector)); a == "" || a != b {
		t.Fatalf("ids differ between replays: %s vs %s", a, b)
	}
}

func TestAccountEnumerationBackground(t *testing.T) {
	t.Parallel()
	reconLogBackground(t, accountEnumDetector)
}
