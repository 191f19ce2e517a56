package detect

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestNetworkFileDropOnRecordings(t *testing.T) {
	t.Parallel()
	const copySMB = "otrf/more/lateral_movement/covenant_copy_smb_CreateRequest_2020-09-22145302.json"
	for _, file := range lmAllRecordings(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			// Covenant copies GruntHTTP.exe to \\WORKSTATION6\C$\ProgramData: Sysmon 11 by System.
			a := lmOne(t, psexecRun(t, file, NewNetworkFileDrop()), file == copySMB)
			if a == nil {
				return
			}
			if got := psexecEntity(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST); got != "workstation6.theshire.local" {
				t.Errorf("host = %q", got)
			}
			if a.GetMitreTechniques()[0] != "T1570" || psexecSummaries(a) != `11 System wrote C:\ProgramData\GruntHTTP.exe` {
				t.Errorf("alert: %v", a)
			}
		})
	}
}

func TestNetworkFileDropBound(t *testing.T) {
	t.Parallel()
	d := NewNetworkFileDrop()
	d.MaxHosts = 2
	for i, host := range []string{"a", "b", "c", "d"} {
		d.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 11, Host: host,
			Time:   timestamppb.New(time.Date(2024, 5, 1, 10, 0, i, 0, time.UTC)),
			Fields: map[string]string{"Image": "System", "TargetFilename": `C:\Windows\x.exe`}})
	}
	if d.episodes.Len() != 2 {
		t.Fatalf("hosts = %d, want the bound 2", d.episodes.Len())
	}
	for _, f := range []string{`C:\payload.exe`, `C:\Users\bob\AppData\Local\Temp\x.dll`, `C:\Windows\System32\wbem\wbemcomn.dll`} {
		if got := d.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 11, Host: "f",
			Time: timestamppb.New(time.Now()), Fields: map[string]string{"Image": "System", "TargetFilename": f}}); len(got) != 1 {
			t.Errorf("%s raised %d alerts, want 1", f, len(got))
		}
	}
	// An ETW log, a Windows Update download and an installer a user copies to a file server's
	// share, all written by System, are not drops.
	for _, f := range []string{`C:\Windows\System32\LogFiles\WMI\RtBackup\x.etl`, `C:\Windows\SoftwareDistribution\Download\x.exe`,
		`D:\Shares\Software\setup.exe`, `C:\Shares\Team\tool.msi`} {
		if got := d.Detect(&adjoinv1.Event{Channel: "Microsoft-Windows-Sysmon/Operational", EventId: 11, Host: "e",
			Time: timestamppb.New(time.Now()), Fields: map[string]string{"Image": "System", "TargetFilename": f}}); len(got) != 0 {
			t.Errorf("%s raised %d alerts", f, len(got))
		}
	}
}
