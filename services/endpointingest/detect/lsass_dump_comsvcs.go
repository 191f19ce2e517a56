package detect

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// comsvcsMiniDump matches comsvcs.dll's MiniDumpW export called through rundll32, by name or
// by its ordinal #24, and captures the process-id argument (a number or a PowerShell
// expression such as "(Get-Process lsass).Id") and the dump file.
var comsvcsMiniDump = regexp.MustCompile(`(?i)comsvcs(?:\.dll)?["']?[\s,]+(?:minidumpw?|#\+?0*24)[\s,]+(\([^)]*\)\S*|\S+)\s+("[^"]+"|'[^']+'|\S+)`)

// LSASSDumpComsvcs raises an alert when LSASS memory is written to a file: a command line
// calling comsvcs.dll MiniDump (Sysmon 1 or Security 4688), or a Sysmon 11 creating a .dmp
// file that is named after lsass, written by rundll32 or a program in a user folder
// (Dumpert, procdump copies, lsassy's comsvcs call), or written by any process that opened
// lsass.exe (Episodes), whatever its name. The alert is keyed on the host and the dump file,
// and through Episodes on the dumping process, so the launcher, the rundll32 process, its
// 4688 twin, its LSASS handle and the file creation of one dump are one alert.
type LSASSDumpComsvcs struct {
	// DumperFolders are lower-case path fragments of images whose .dmp files are suspicious:
	// where users and implants put programs. Default: \users\, \temp\, \programdata\.
	DumperFolders []string
	// DumperImages are lower-case image names whose .dmp files are suspicious wherever they
	// run from. Default: rundll32.exe (comsvcs MiniDump).
	DumperImages []string
	// Episodes (may be nil) groups this alert with the other traces of the same dumper.
	Episodes *CredEpisodes

	procs *Processes
}

// NewLSASSDumpComsvcs returns the detector with its defaults; procs (may be nil) names the
// user of a process that wrote a dump, since Sysmon 11 carries no user.
func NewLSASSDumpComsvcs(procs *Processes) *LSASSDumpComsvcs {
	return &LSASSDumpComsvcs{
		DumperFolders: []string{`\users\`, `\temp\`, `\programdata\`},
		DumperImages:  []string{"rundll32.exe"},
		procs:         procs,
	}
}

// Name implements detection.Detector.
func (d *LSASSDumpComsvcs) Name() string { return "lsass-dump-comsvcs" }

// Detect implements detection.Detector.
func (d *LSASSDumpComsvcs) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if p, ok := credProcStartOf(ev); ok {
		return d.fromCommandLine(p)
	}
	if ev.GetEventId() == 11 && detection.IsSysmon(ev) {
		return d.fromDumpFile(ev)
	}
	return nil
}

func (d *LSASSDumpComsvcs) fromCommandLine(p credProcStart) []*adjoinv1.Alert {
	m := comsvcsMiniDump.FindStringSubmatch(p.commandLine)
	if m == nil {
		return nil
	}
	file := credWindowsPath(m[2], p.cwd)
	a := d.alert(p.ev, file, fmt.Sprintf("%s on %s, run by %s, called comsvcs.dll MiniDump on process %s, writing %s.",
		p.image, p.ev.GetHost(), credOr(p.user, "an unknown user"), m[1], strings.Trim(m[2], `"'`)))
	a.Id = p.episode(d.Episodes, a.GetId())
	credAddEntity(a, p.actor())
	a.Evidence = []*adjoinv1.Evidence{p.evidence(fmt.Sprintf("%d %s comsvcs.dll MiniDump %s -> %s", p.ev.GetEventId(), detection.BaseName(p.image), m[1], strings.Trim(m[2], `"'`)))}
	return []*adjoinv1.Alert{a}
}

func (d *LSASSDumpComsvcs) fromDumpFile(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	target := f["TargetFilename"]
	name := detection.BaseName(target)
	if !strings.HasSuffix(name, ".dmp") {
		return nil
	}
	writer := credProcessKey(ev.GetHost(), f["ProcessId"])
	if !d.suspiciousDump(name, f["Image"]) && !d.Episodes.Known(writer, detection.TraceOf(ev)) {
		return nil
	}
	user := f["User"] // Sysmon 15 and later; older versions name only the process
	if user == "" {
		user = d.procs.User(ev.GetHost(), f["ProcessGuid"])
	}
	a := d.alert(ev, credWindowsPath(target, ""), fmt.Sprintf("%s on %s, run by %s, wrote the memory dump %s.",
		f["Image"], ev.GetHost(), credOr(user, "an unknown user"), target))
	a.Id = d.Episodes.Claim(credKeys(writer), credKeys(writer), detection.TraceOf(ev), a.GetId())
	credAddEntity(a, detection.UserRef(user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	a.Evidence = []*adjoinv1.Evidence{credEvidence(ev, "sysmon", fmt.Sprintf("11 %s -> %s", detection.BaseName(f["Image"]), target),
		detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "TargetFilename", "CreationUtcTime", "User"))}
	return []*adjoinv1.Alert{a}
}

// suspiciousDump reports whether a .dmp file is likely LSASS memory: named after lsass, or
// written by rundll32 or a program in a user folder. Crash dumps by WerFault.exe (System32)
// into CrashDumps or WER folders are none of these.
func (d *LSASSDumpComsvcs) suspiciousDump(name, image string) bool {
	if strings.Contains(name, "lsass") {
		return true
	}
	base, path := detection.BaseName(image), strings.ToLower(image)
	for _, i := range d.DumperImages {
		if base == i {
			return true
		}
	}
	for _, frag := range d.DumperFolders {
		if strings.Contains(path, frag) {
			return true
		}
	}
	return false
}

func (d *LSASSDumpComsvcs) alert(ev *adjoinv1.Event, file, description string) *adjoinv1.Alert {
	return credAlert(ev, d.Name(), []string{file}, adjoinv1.Severity_SEVERITY_HIGH,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, []string{"T1003.001"},
		"Credential dumping: LSASS memory written to a file", description)
}

// credOr returns s, or def when s is empty.
func credOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
