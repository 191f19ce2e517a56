package detect

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestComsvcsLSASSDumpOnRecordings(t *testing.T) {
	t.Parallel()
	credCheck(t, func(procs *Processes) detection.Detector { return NewLSASSDumpComsvcs(procs) }, map[string][]string{
		// rundll32 comsvcs.dll MiniDump 756: Sysmon 1, its 4688 twin and the Sysmon 11 of
		// lsass-comsvcs.dmp share the dump file, so they are one alert.
		"otrf/host/psh_lsass_memory_dump_comsvcs_2020-10-18T19500924.json": {`workstation5 actor=workstation5\wardog target=- evidence=3`},
		// Dumpert writes C:\Windows\Temp\dumpert.dmp from the Desktop. Sysmon 11 names no user
		// and the export lists newest first, so the Sysmon 1 naming wardog comes later.
		"otrf/host/cmd_lsass_memory_dumpert_syscalls_2020-10-1822561997.json": {`workstation5 actor=- target=- evidence=1`},
		// lsassy: powershell -C "rundll32 comsvcs.dll, MiniDump (Get-Process lsass).Id
		// \Windows\Temp\76nivOxA.dmp full", the rundll32 it starts, and the Sysmon 11.
		"evtx-to-mitre-attack/ndjson/ID1-LSASS dump with LSASSY (SYSMON).json": {`FS03.offsec.lan actor=offsec\admmig target=- evidence=3`},
	}, func(t *testing.T, a *adjoinv1.Alert) {
		if a.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || a.GetMitreTechniques()[0] != "T1003.001" ||
			a.GetKillChainPhase() != adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS {
			t.Errorf("classification: %v", a)
		}
	})
}

// No recording holds the ordinal form or a benign crash dump: minimal hand-written events.
func TestComsvcsLSASSDumpVariants(t *testing.T) {
	t.Parallel()
	dump := func(image, file string) *adjoinv1.Event {
		ev := credProcEvent(image, "")
		ev.EventId, ev.Fields = 11, map[string]string{"Image": image, "TargetFilename": file, "ProcessGuid": "{00000000-0000-0000-0000-000000000002}"}
		return ev
	}
	tests := []struct {
		name string
		ev   *adjoinv1.Event
		want bool
	}{
		{"ordinal #24", credProcEvent(`C:\Windows\System32\rundll32.exe`, `rundll32.exe C:\windows\System32\comsvcs.dll, #24 624 C:\temp\out.dmp full`), true},
		{"upper case, MiniDumpW", credProcEvent(`C:\Windows\System32\rundll32.exe`, `RUNDLL32 COMSVCS.DLL MINIDUMPW 624 "C:\Temp\a b.bin" FULL`), true},
		{"task manager lsass.DMP", dump(`C:\Windows\System32\Taskmgr.exe`, `C:\Users\alice\AppData\Local\Temp\lsass.DMP`), true},
		{"WER crash dump is not lsass", dump(`C:\Windows\System32\WerFault.exe`, `C:\Users\alice\AppData\Local\CrashDumps\notepad.exe.1234.dmp`), false},
		{"comsvcs without MiniDump", credProcEvent(`C:\Windows\System32\rundll32.exe`, `rundll32.exe comsvcs.dll,DllRegisterServer`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NewLSASSDumpComsvcs(nil).Detect(tt.ev)
			if (len(got) == 1) != tt.want || len(got) > 1 {
				t.Fatalf("alerts = %v, want fire=%v", got, tt.want)
			}
			if tt.want && !strings.Contains(got[0].GetDescription(), tt.ev.GetHost()) {
				t.Errorf("description %q does not name the host", got[0].GetDescription())
			}
		})
	}
}
