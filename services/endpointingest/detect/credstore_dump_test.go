package detect

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func TestCredentialStoreDumpOnRecordings(t *testing.T) {
	t.Parallel()
	// Each recording is one copy, one alert, though its clocks disagree: the ntds lab's Sysmon
	// UtcTime is 7 h off its envelope (the parser takes the envelope), and the esentutl
	// export's 4688 is dated by a zone-less 12-hour local clock, 8 h off (CredEpisodes joins it
	// at a whole number of hours).
	tests := []struct {
		file      string
		want      []string
		technique string
	}{
		{"otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json",
			// Security/Application: 4688, 4656/4663 on the shadow copy, ESENT 325/327. Sysmon:
			// 1, 11 of ntds.dit and of the SECURITY hive ifm copies beside it.
			[]string{`DC01.pandalab.com actor=pandalab\administrator target=- evidence=19`}, "T1003.003"},
		{"otrf/more/credential_access/cmd_dumping_ntds_dit_file_volume_shadow_copy.no-vbox-sysmon10.json",
			// vssadmin create shadow is kept as evidence of the cmd.exe copy out of the shadow
			// copy (4656/4663) and of the ntds.dit it writes (Sysmon 11).
			[]string{`DC01.pandalab.com actor=pandalab\administrator target=- evidence=11`}, "T1003.003"},
		{"otrf/more/credential_access/cmd_sam_copy_esentutl_2020-10-1900290001.json",
			// Sysmon 1 and 11 of esentutl, and the 4688 of the same process.
			[]string{`workstation5 actor=workstation5\wardog target=- evidence=3`}, "T1003.002"},
		// reg save HKLM\sam sam from System32: the hive file it writes (Sysmon 11), which
		// joins lsa-secrets-dump's alert when both share Episodes.
		{"otrf/more/credential_access/empire_shell_reg_dump_sam_2020-09-22042823.json", []string{`WORKSTATION5.theshire.local actor=theshire\pgustavo target=- evidence=1`}, "T1003.002"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			procs := NewProcesses(1000)
			d := NewCredentialStoreDump()
			d.Procs = procs
			alerts := credRun(t, tt.file, procs, d)
			if got := credSummaries(alerts); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("alerts = %q, want %q", got, tt.want)
			}
			for _, a := range alerts {
				credCheckAlert(t, a)
				if a.GetMitreTechniques()[0] != tt.technique || a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
					t.Errorf("classification: %v", a)
				}
			}
		})
	}
}

// The ntdsutil recording: one theft, one alert, with the ifm command, the shadow copy handles,
// the database engine's messages and the copied hives, from every channel.
func TestCredentialStoreDumpOneClock(t *testing.T) {
	t.Parallel()
	d := NewCredentialStoreDump()
	var alerts []*adjoinv1.Alert
	for _, ev := range credEvents(t, "otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json") {
		alerts = append(alerts, d.Detect(ev)...)
	}
	alerts = detection.Merge(alerts)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(alerts), credSummaries(alerts))
	}
	kinds := map[string]bool{}
	for _, e := range alerts[0].GetEvidence() {
		kinds[e.GetEventId()] = true
	}
	for _, id := range []string{"1", "11", "4688", "4656", "325"} {
		if !kinds[id] {
			t.Errorf("no evidence of event %s: %v", id, kinds)
		}
	}
}

// The host and CC0 recordings, the other atomic recordings and the background playbook copy
// no credential store (reg save is lsa-secrets-dump's).
func TestCredentialStoreDumpNegatives(t *testing.T) {
	t.Parallel()
	newDetector := func(*Processes) detection.Detector { return NewCredentialStoreDump() }
	credCheck(t, newDetector, nil, nil)
	credSilent(t, newDetector, "cmd_dumping_ntds_dit", "cmd_sam_copy_esentutl", "reg_dump_sam")
}

// credSilent runs a fresh detector over the atomic recordings (but those whose name contains
// one of except) and the background playbook, and fails on any alert.
func credSilent(t *testing.T, newDetector func(*Processes) detection.Detector, except ...string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sample.Dir(t), "otrf/more/*/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no atomic recordings: %v", err)
	}
	files = append(files, filepath.Join(sample.Dir(t), credBackground))
next:
	for _, file := range files {
		rel, _ := filepath.Rel(sample.Dir(t), file)
		for _, e := range except {
			if strings.Contains(rel, e) {
				continue next
			}
		}
		if testing.Short() && rel == credBackground {
			continue
		}
		procs := NewProcesses(10000)
		for _, a := range credRun(t, rel, procs, newDetector(procs)) {
			t.Errorf("%s: unexpected alert: %s", rel, a.GetDescription())
		}
	}
}

// No recording holds these forms: minimal hand-written events.
func TestCredentialStoreDumpVariants(t *testing.T) {
	t.Parallel()
	file := func(image, target string) *adjoinv1.Event {
		ev := credProcEvent(image, "")
		ev.EventId, ev.Fields = 11, map[string]string{"Image": image, "TargetFilename": target, "ProcessId": "77"}
		return ev
	}
	esent := func(id int32, msg string) *adjoinv1.Event {
		return &adjoinv1.Event{Channel: "Application", EventId: id, Host: "DC1.corp.example",
			Time: timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)), Fields: map[string]string{"Message": msg}}
	}
	tests := []struct {
		name string
		ev   *adjoinv1.Event
		want string // technique, "" for none
	}{
		{"copy from a shadow copy", credProcEvent(`C:\Windows\System32\cmd.exe`,
			`cmd /c copy \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy3\Windows\System32\config\SECURITY C:\temp\s`), "T1003.002"},
		{"esentutl ntds.dit", credProcEvent(`C:\Windows\System32\esentutl.exe`, `esentutl.exe /y /vss C:\Windows\NTDS\ntds.dit /d C:\temp\n.dit`), "T1003.003"},
		{"ntdsutil ifm, other spelling", credProcEvent(`C:\Windows\System32\ntdsutil.exe`, `ntdsutil.exe "activate instance ntds" ifm "create full c:\x" quit quit`), "T1003.003"},
		{"ntds.dit written to a share folder", file(`C:\Tools\x.exe`, `C:\Users\Public\ntds.dit`), "T1003.003"},
		{"DC database in its own folder on D:", file(`C:\Windows\System32\lsass.exe`, `D:\NTDS\ntds.dit`), ""},
		{"config hive written by Windows", file(`C:\Windows\System32\svchost.exe`, `C:\Windows\System32\config\SAM`), ""},
		{"shadow copy alone is a backup", credProcEvent(`C:\Windows\System32\vssadmin.exe`, `vssadmin create shadow /for=C:`), ""},
		{"esentutl on a browser cache", credProcEvent(`C:\Windows\System32\esentutl.exe`, `esentutl /y C:\Users\a\WebCache\WebCacheV01.dat /d x`), ""},
		{"ESENT 327 detaching a copy", esent(327, `NTDS (99,D,100) The database engine detached a database (2, C:\ProgramData\x\ntds.dit).`), "T1003.003"},
		{"ESENT 216 move to a shadow copy is backups' own", esent(216, `lsass (600,R,98) A database location change was detected from 'C:\Windows\NTDS\ntds.dit' to '\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\Windows\NTDS\ntds.dit'.`), ""},
		{"ESENT attach of the live database", esent(326, `lsass (600,D,50) The database engine attached a database (1, C:\Windows\NTDS\ntds.dit).`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewCredentialStoreDump().Detect(tt.ev)
			if (len(got) == 1) != (tt.want != "") || len(got) > 1 {
				t.Fatalf("alerts = %v, want %q", got, tt.want)
			}
			if tt.want != "" && got[0].GetMitreTechniques()[0] != tt.want {
				t.Errorf("technique = %v, want %s", got[0].GetMitreTechniques(), tt.want)
			}
		})
	}
}

// Shadow copy creations are remembered for at most 4 a host and the host table is bounded.
func TestCredentialStoreDumpShadowBound(t *testing.T) {
	t.Parallel()
	s := newCredShadows(2)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 6 {
		s.add("WS1", &adjoinv1.Evidence{Summary: string(rune('a' + i)), Time: timestamppb.New(at)})
	}
	if got := s.take("WS1", at, time.Minute); len(got) != 4 || got[0].GetSummary() != "c" {
		t.Errorf("kept %v, want the last 4", got)
	}
	s.add("WS2", &adjoinv1.Evidence{Time: timestamppb.New(at)})
	s.add("WS3", &adjoinv1.Evidence{Time: timestamppb.New(at)})
	if got := s.take("WS1", at, time.Minute); len(got) != 0 {
		t.Errorf("WS1 kept past the host bound: %v", got)
	}
}
