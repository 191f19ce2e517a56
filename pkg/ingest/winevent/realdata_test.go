package winevent

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findSharedData walks up from the working directory to the first ancestor holding
// shared/data: /work/main/pkg/ingest/winevent finds /work/shared/data here, and CI's fresh clone
// finds the copy of shared/ placed beside it.
func findSharedData() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// sharedData returns the shared data directory, skipping the test only when it is absent.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, ok := findSharedData()
	if !ok {
		t.Skip("shared/data not found beside the checkout")
	}
	return dir
}

// eachLine calls fn for every non-blank line of path; the longest OTRF line is ~13 KB.
func eachLine(t testing.TB, path string, fn func(n int, line []byte) bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open data file: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if !fn(n, sc.Bytes()) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
}

// findEvent returns the first event of a data file that match accepts.
func findEvent(t *testing.T, rel string, match func(Event) bool) Event {
	t.Helper()
	path := filepath.Join(sharedData(t), filepath.FromSlash(rel))
	var found *Event
	eachLine(t, path, func(n int, line []byte) bool {
		ev, err := Parse(line)
		if err != nil {
			t.Fatalf("%s:%d: %v", rel, n, err)
		}
		if match(ev) {
			found = &ev
			return false
		}
		return true
	})
	if found == nil {
		t.Fatalf("%s: no matching event", rel)
	}
	return *found
}

func TestRealSamples(t *testing.T) {
	t.Parallel()
	const (
		s1File    = "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"
		s4File    = "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json"
		s5File    = "otrf/host/empire_psexec_dcerpc_tcp_svcctl_2020-09-20121608.sec-sys-sysmon.json"
		s6File    = "otrf/host/covenant_sharpsc_create_dcerpc_smb_svcctl_2020-08-06022635.json"
		s9File    = "otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json"
		s11File   = "otrf/host/cmd_psexec_lsa_secrets_dump_2020-10-1903305471.json"
		roastFile = "evtx-to-mitre-attack/ndjson/ID4769-Kerberoast ticket with low encryption.json"
		mimiFile  = "evtx-to-mitre-attack/ndjson/ID10-Mimikatz LSASS process dump.json"
		psexFile  = "evtx-to-mitre-attack/ndjson/ID7045-7036 PSexec service installation.json"
	)
	tests := []struct {
		name  string
		file  string
		match func(Event) bool
		want  want
		check func(t *testing.T, ev Event)
	}{
		{
			name:  "A: S1 4662 DCSync by pgustavo, time from @timestamp",
			file:  s1File,
			match: func(e Event) bool { return e.EventID == 4662 },
			want: want{
				format: FormatNXLog, eventID: 4662, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "MORDORDC.theshire.local", time: "2020-08-05T06:10:03.798Z", recordID: 215522, outcome: OutcomeSuccess,
				fields: map[string]string{"SubjectUserName": "pgustavo", "SubjectLogonId": "0x824909", "AccessMask": "0x100"},
				absent: []string{"@timestamp", "EventTime", "Hostname", "host", "tags", "Keywords", "EventType"},
			},
			check: func(t *testing.T, ev Event) {
				if id, err := ParseHex(ev.Get("SubjectLogonId")); err != nil || id != 0x824909 {
					t.Errorf("ParseHex(SubjectLogonId) = %#x, %v", id, err)
				}
				if !strings.Contains(ev.Get("Properties"), "{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}") {
					t.Errorf("Properties = %q, want the Get-Changes GUID", ev.Get("Properties"))
				}
				if want := mustTime(t, "2020-08-05T02:10:02Z"); !ev.LocalTime.Equal(want) {
					t.Errorf("LocalTime = %v, want EventTime %v", ev.LocalTime, want)
				}
				if !ev.IsSecurity() {
					t.Error("IsSecurity = false")
				}
			},
		},
		{
			name: "A: S4 Sysmon 10 to lsass, time from UtcTime not @timestamp",
			file: s4File,
			match: func(e Event) bool {
				return e.IsSysmon() && e.EventID == 10 && e.Get("GrantedAccess") == "0x1010"
			},
			want: want{
				format: FormatNXLog, eventID: 10, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "WORKSTATION6.theshire.local", time: "2020-09-22T02:14:24.632Z", recordID: 3659063,
				fields: map[string]string{"TargetImage": `C:\windows\system32\lsass.exe`, "SourceProcessId": "5056", "UtcTime": "2020-09-22 02:14:24.632"},
				absent: []string{"AccountName", "Domain", "UserID", "EventType", "EventTypeOrignal"},
			},
		},
		{
			// SCHEMA/README say NXLog's value sits in EventType; the data has it the other
			// way round: EventTypeOrignal is NXLog's INFO, EventType is Sysmon's own.
			name:  "A: Sysmon 12 keeps Sysmon's own EventType",
			file:  s1File,
			match: func(e Event) bool { return e.RecordID == 479932 },
			want: want{
				format: FormatNXLog, eventID: 12, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "WORKSTATION5.theshire.local", time: "2020-08-05T06:09:28.246Z", recordID: 479932,
				fields: map[string]string{"EventType": "CreateKey"},
				absent: []string{"EventTypeOrignal"},
			},
		},
		{
			name: "A: S5 Sysmon 13 whose own EventType was lost is not INFO",
			file: s5File,
			match: func(e Event) bool {
				return e.EventID == 13 && strings.HasSuffix(e.Get("TargetObject"), `\Services\Updater\ImagePath`)
			},
			want: want{
				format: FormatNXLog, eventID: 13, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "WORKSTATION6.theshire.local", time: "2020-09-20T16:16:56.569Z", recordID: 2974511,
				absent: []string{"EventType", "EventTypeOrignal"},
			},
		},
		{
			name:  "A: S6 7045 drops the NXLog-overwritten AccountName",
			file:  s6File,
			match: func(e Event) bool { return e.IsSystem() && e.EventID == 7045 },
			want: want{
				format: FormatNXLog, eventID: 7045, channel: "System", provider: "Service Control Manager",
				host: "WORKSTATION6.theshire.local", time: "2020-08-06T06:27:31.787Z", recordID: 521,
				fields: map[string]string{"ServiceName": "OTR", "ImagePath": `C:\Windows\System32\GruntHTTP2.exe`},
				absent: []string{"AccountName"},
			},
			check: func(t *testing.T, ev Event) {
				if !strings.Contains(ev.Get("Message"), "Service Account:  LocalSystem") {
					t.Errorf("Message lost the real service account: %q", ev.Get("Message"))
				}
			},
		},
		{
			name: "B: S9 Sysmon 10 rundll32 to lsass, time from UtcTime",
			file: s9File,
			match: func(e Event) bool {
				return e.IsSysmon() && e.EventID == 10 && e.Get("GrantedAccess") == "0x1410" &&
					strings.HasSuffix(e.Get("TargetImage"), `\lsass.exe`)
			},
			want: want{
				format: FormatPowerShell, eventID: 10, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "WORKSTATION5", time: "2020-10-18T23:50:05.963Z",
				fields: map[string]string{"SourceImage": `C:\Windows\System32\rundll32.exe`, "TargetImage": `C:\windows\system32\lsass.exe`},
				absent: []string{"TimeCreated", "Task"},
			},
			check: func(t *testing.T, ev Event) {
				// The 12-hour clock dropped PM: 19:50 EDT reads 07:50.
				if want := mustTime(t, "2020-10-18T07:50:06.001Z"); !ev.LocalTime.Equal(want) {
					t.Errorf("LocalTime = %v, want %v", ev.LocalTime, want)
				}
			},
		},
		{
			name:  "B: S9 Security 4689 keeps the ambiguous clock, flagged",
			file:  s9File,
			match: func(e Event) bool { return e.EventID == 4689 && e.Get("ProcessId") == "0x12d8" },
			want: want{
				format: FormatPowerShell, eventID: 4689, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "WORKSTATION5", time: "2020-10-18T07:50:06.220Z", approx: true,
				fields: map[string]string{"SubjectUserName": "wardog", "SubjectLogonId": "0xc61d9", "Status": "0x0"},
			},
		},
		{
			name:  "B: S11 7045 PSEXESVC keeps the real AccountName",
			file:  s11File,
			match: func(e Event) bool { return e.EventID == 7045 },
			want: want{
				format: FormatPowerShell, eventID: 7045, channel: "System", provider: "Service Control Manager",
				host: "WORKSTATION5", time: "2020-10-19T03:30:46.416Z", approx: true,
				fields: map[string]string{"ServiceName": "PSEXESVC", "AccountName": "LocalSystem", "ImagePath": `%SystemRoot%\PSEXESVC.exe`},
			},
		},
		{
			name:  "C: 4769 kerberoast with RC4",
			file:  roastFile,
			match: func(e Event) bool { return e.RecordID == 24476805 },
			want: want{
				format: FormatEVTX, eventID: 4769, channel: "Security", provider: "Microsoft-Windows-Security-Auditing",
				host: "rootdc1.offsec.lan", time: "2020-08-02T11:33:06.523438Z", recordID: 24476805, outcome: OutcomeSuccess,
				fields: map[string]string{"TicketEncryptionType": "0x00000017", "TargetUserName": "admmig@OFFSEC.LAN", "ServiceName": "Svc-SQL-DB01"},
				absent: []string{"Computer", "TimeCreated", "EventRecordID", "Keywords", "ProviderGuid", "ExecutionProcessID"},
			},
			check: func(t *testing.T, ev Event) {
				if n, err := ParseHex(ev.Get("TicketEncryptionType")); err != nil || n != 0x17 {
					t.Errorf("ParseHex(TicketEncryptionType) = %#x, %v; want 0x17", n, err)
				}
				if ip := StripMappedIPv4(ev.Get("IpAddress")); ip != "10.23.23.9" {
					t.Errorf("StripMappedIPv4(IpAddress) = %q, want 10.23.23.9", ip)
				}
			},
		},
		{
			name:  "C: Sysmon 10 mimikatz to lsass, time from UtcTime",
			file:  mimiFile,
			match: func(e Event) bool { return e.EventID == 10 },
			want: want{
				format: FormatEVTX, eventID: 10, channel: "Microsoft-Windows-Sysmon/Operational", provider: "Microsoft-Windows-Sysmon",
				host: "FS03.offsec.lan", time: "2021-10-21T20:40:43.136Z", recordID: 82853,
				fields: map[string]string{"GrantedAccess": "0x00001010", "SourceImage": `C:\TOOLS\Mimikatzx64\mimikatz.exe`},
				absent: []string{"UserID"},
			},
		},
		{
			name:  "C: 7045 PSEXESVC",
			file:  psexFile,
			match: func(e Event) bool { return e.EventID == 7045 },
			want: want{
				format: FormatEVTX, eventID: 7045, channel: "System", provider: "Service Control Manager",
				host: "jump01.offsec.lan", time: "2021-04-21T09:27:56.082508Z", recordID: 471480,
				fields: map[string]string{"ServiceName": "PSEXESVC", "AccountName": "LocalSystem"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := findEvent(t, tt.file, tt.match)
			checkEvent(t, ev, tt.want)
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

// TestParseAllSharedData parses every event in the shared data once: ~28k lines, ~40 MB.
func TestParseAllSharedData(t *testing.T) {
	if testing.Short() {
		t.Skip("parses ~40 MB; skipped with -short")
	}
	t.Parallel()
	dir := sharedData(t)
	var files []string
	for _, pattern := range []string{"otrf/host/*.json", "otrf/background/*.json", "evtx-to-mitre-attack/ndjson/*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	// Event counts per shape, from scanning the files independently (SCHEMA.md inventory).
	wantCounts := map[string]int{FormatNXLog: 20271, FormatPowerShell: 588, FormatEVTX: 353}
	lo, hi := mustTime(t, "2019-01-01T00:00:00Z"), mustTime(t, "2023-01-01T00:00:00Z")
	counts := map[string]int{}
	failures := 0
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		eachLine(t, path, func(n int, line []byte) bool {
			ev, err := Parse(line)
			problem := ""
			switch {
			case err != nil:
				problem = err.Error()
			case ev.Time.IsZero() || ev.Time.Before(lo) || ev.Time.After(hi):
				problem = "time out of range: " + ev.Time.String()
			case ev.Host == "":
				problem = "empty Host"
			case ev.IsSysmon() && (ev.TimeApproximate || ev.Time.Format("2006-01-02 15:04:05.000") != ev.Get("UtcTime")):
				problem = "Sysmon time not from UtcTime"
			case ev.TimeApproximate != (ev.Format == FormatPowerShell && !ev.IsSysmon()):
				problem = "unexpected TimeApproximate"
			}
			if problem != "" {
				failures++
				if failures <= 20 {
					t.Errorf("%s:%d: %s", rel, n, problem)
				}
				return true
			}
			counts[ev.Format]++
			return true
		})
	}
	if failures > 0 {
		t.Fatalf("%d events failed", failures)
	}
	for format, want := range wantCounts {
		if counts[format] != want {
			t.Errorf("%s events = %d, want %d (all counts %v)", format, counts[format], want, counts)
		}
	}
	t.Logf("parsed %v from %d files", counts, len(files))
}

// The pandalab recordings of otrf/more write Sysmon's UtcTime 7 h off the clock every channel's
// envelope carries (Security, Application, and Sysmon's own TimeCreated): a Sysmon event is
// dated by its envelope there, so ntdsutil's Sysmon 1 and its 4688 fall on one instant. Where
// the envelope has no zone (the esentutl PowerShell export), UtcTime still wins.
func TestSysmonUtcTimeInAnotherZone(t *testing.T) {
	ntds := "otrf/more/credential_access/cmd_dumping_ntds_dit_file_ntdsutil.no-vbox-sysmon10.json"
	isNtdsutil := func(id int) func(Event) bool {
		return func(ev Event) bool {
			return ev.EventID == id && strings.HasPrefix(ev.Fields["CommandLine"], "ntdsutil")
		}
	}
	sysmon, security := findEvent(t, ntds, isNtdsutil(1)), findEvent(t, ntds, isNtdsutil(4688))
	if got := sysmon.Fields["UtcTime"]; got != "2023-07-19 16:03:37.257" {
		t.Fatalf("the recording changed: UtcTime %q", got)
	}
	if d := sysmon.Time.Sub(security.Time); d < 0 || d > time.Second {
		t.Errorf("Sysmon 1 at %s, its 4688 at %s: want the envelope's clock, within a second", sysmon.Time, security.Time)
	}
	esentutl := findEvent(t, "otrf/more/credential_access/cmd_sam_copy_esentutl_2020-10-1900290001.json", func(ev Event) bool {
		return ev.EventID == 1 && strings.Contains(ev.Fields["CommandLine"], "esentutl")
	})
	if want := time.Date(2020, 10, 19, 4, 28, 31, 89e6, time.UTC); !esentutl.Time.Equal(want) || esentutl.TimeApproximate {
		t.Errorf("esentutl's Sysmon 1 at %s (approximate %v), want its UtcTime %s", esentutl.Time, esentutl.TimeApproximate, want)
	}
}
