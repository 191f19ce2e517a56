package detect

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// credProcStart is one process creation, from Sysmon 1 or Security 4688, reduced to what the
// command-line detectors (lsass-dump-comsvcs, credential-tool-command-line,
// encoded-powershell, lsa-secrets-dump) read. Hosts that log both describe the same process
// twice; those detectors key their alerts on what the command does rather than on the
// process, so the two records (and a launcher carrying the same command) fold into one alert.
type credProcStart struct {
	ev                       *adjoinv1.Event
	sysmon                   bool
	image, originalFileName  string
	commandLine, parentImage string
	user, logonID, cwd       string
	pid, parentPID           string // decimal (Sysmon) or hexadecimal (4688)
}

// credProcStartOf reads a Sysmon 1 or Security 4688 event; ok is false for anything else.
func credProcStartOf(ev *adjoinv1.Event) (p credProcStart, ok bool) {
	f := ev.GetFields()
	switch {
	case ev.GetEventId() == 1 && detection.IsSysmon(ev):
		return credProcStart{
			ev: ev, sysmon: true,
			image: f["Image"], originalFileName: f["OriginalFileName"],
			commandLine: f["CommandLine"], parentImage: f["ParentImage"],
			user: f["User"], logonID: f["LogonId"], cwd: f["CurrentDirectory"],
			pid: f["ProcessId"], parentPID: f["ParentProcessId"],
		}, true
	case ev.GetEventId() == 4688 && detection.IsSecurity(ev):
		p = credProcStart{
			ev: ev, image: f["NewProcessName"], commandLine: f["CommandLine"],
			parentImage: f["ParentProcessName"], logonID: f["SubjectLogonId"],
			pid: f["NewProcessId"], parentPID: f["ProcessId"],
		}
		// 4688 names the creator (Subject); TargetUserName is set only when the new
		// process runs as someone else.
		name, domain := f["SubjectUserName"], f["SubjectDomainName"]
		if t := f["TargetUserName"]; t != "" && t != "-" {
			name, domain, p.logonID = t, f["TargetDomainName"], f["TargetLogonId"]
		}
		if name != "" && !entity.IsMachineAccount(name) && !credProcSystemSession(p.logonID) {
			p.user = name
			if domain != "" && domain != "-" {
				p.user = domain + `\` + name
			}
		}
		return p, true
	}
	return credProcStart{}, false
}

// credProcSystemSession reports the logon sessions of SYSTEM, LOCAL SERVICE and NETWORK
// SERVICE (0x3e7, 0x3e5, 0x3e4), which belong to no directory user.
func credProcSystemSession(logonID string) bool {
	n, err := winevent.ParseHex(logonID)
	return err == nil && (n == 0x3e7 || n == 0x3e5 || n == 0x3e4)
}

// isImage reports whether the process is one of the given lower-case file names, by path or
// by the original file name Sysmon reads from the PE header (which survives renaming).
func (p credProcStart) isImage(names ...string) bool {
	base, orig := detection.BaseName(p.image), strings.ToLower(p.originalFileName)
	for _, n := range names {
		if base == n || orig == n {
			return true
		}
	}
	return false
}

// episode returns the alert id of the dumping episode this process belongs to: its own or
// its parent's (a launcher passing the same command) when Episodes knows one, else id. The
// image key lets a script block (credential-dump-script), which names no process, join it.
func (p credProcStart) episode(c *CredEpisodes, id string) string {
	own := credProcessKey(p.ev.GetHost(), p.pid)
	return c.Claim(credKeys(own, credProcessKey(p.ev.GetHost(), p.parentPID)), credKeys(own, credImageKey(p.ev.GetHost(), p.image)),
		detection.TraceOf(p.ev), id)
}

// actor is the user that ran the process, or nil for local system identities.
func (p credProcStart) actor() *adjoinv1.EntityRef {
	return detection.UserRef(p.user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
}

// evidence describes the event, with the logon session and process identities.
func (p credProcStart) evidence(summary string) *adjoinv1.Evidence {
	f := p.ev.GetFields()
	kind, fields := "windows-event", detection.Pick(f, "NewProcessName", "NewProcessId", "CommandLine", "ParentProcessName", "ProcessId",
		"SubjectUserName", "SubjectDomainName", "SubjectLogonId", "TargetUserName", "TargetDomainName", "TargetLogonId")
	if p.sysmon {
		kind, fields = "sysmon", detection.Pick(f, "Image", "OriginalFileName", "CommandLine", "CurrentDirectory", "ProcessGuid", "ProcessId",
			"ParentImage", "ParentProcessGuid", "ParentCommandLine", "User", "LogonId", "IntegrityLevel")
	}
	return credEvidence(p.ev, kind, summary, fields)
}

// credEvidence builds one evidence record of ev.
func credEvidence(ev *adjoinv1.Event, kind, summary string, fields map[string]string) *adjoinv1.Evidence {
	return &adjoinv1.Evidence{
		Kind:     kind,
		Summary:  summary,
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  strconv.Itoa(int(ev.GetEventId())),
		RecordId: ev.GetRecordId(),
		Fields:   fields,
	}
}

// credAlert is the endpoint alert skeleton shared by the command-line detectors: the host
// that logged the event is the destination host, the time is the event's.
func credAlert(ev *adjoinv1.Event, detector string, key []string, severity adjoinv1.Severity, phase adjoinv1.KillChainPhase, techniques []string, title, description string) *adjoinv1.Alert {
	t := ev.GetTime()
	return endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(append([]string{detector, entity.Fold(ev.GetHost())}, key...)...),
		Title:           title,
		Description:     description,
		Detector:        detector,
		KillChainPhase:  phase,
		MitreTechniques: techniques,
		Severity:        severity,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
	}, t.AsTime())
}

// credAddEntity appends ref unless it is nil.
func credAddEntity(a *adjoinv1.Alert, ref *adjoinv1.EntityRef) {
	if ref != nil {
		a.Entities = append(a.Entities, ref)
	}
}

// credWindowsPath folds a Windows file path for comparison: quotes, the drive letter and case
// go, so "C:\Windows\Temp\x.dmp" (Sysmon 11) equals "\Windows\Temp\x.dmp" (a command line).
// A relative path is joined to dir when dir is known.
func credWindowsPath(p, dir string) string {
	p = strings.ToLower(strings.Trim(strings.TrimSpace(p), `"'`))
	p = strings.ReplaceAll(p, "/", `\`)
	if len(p) >= 2 && p[1] == ':' {
		p = p[2:]
	} else if !strings.HasPrefix(p, `\`) && dir != "" {
		return credWindowsPath(strings.TrimRight(dir, `\`)+`\`+p, "")
	}
	return p
}

// credLogonNumber parses a logon id ("0x3e7", "0x00000000000003e7"); 0 when it is absent.
func credLogonNumber(id string) uint64 {
	n, _ := winevent.ParseHex(id)
	return n
}
