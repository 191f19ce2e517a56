package detect

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// CredentialStoreDump raises an alert when the files that hold domain or local credentials
// are copied out of Windows' hands: ntds.dit (T1003.003) and the SAM and SECURITY hives
// (T1003.002), which are locked while Windows runs, so tools read them from a volume shadow
// copy or through the database engine. Traces, any one of which is enough:
//   - a command line (Sysmon 1, Security 4688): ntdsutil "ifm" (install from media),
//     esentutl /y or /vss on one of the files, or a copy (copy, xcopy, robocopy, Copy-Item)
//     naming a HarddiskVolumeShadowCopy path of one of the files;
//   - Sysmon 11 creating ntds.dit outside Windows' NTDS folder, or a file named SAM or
//     SECURITY outside System32\config;
//   - Security 4656/4663 on one of the files inside a shadow copy, by an image that is not
//     Windows' own (lsass.exe) or a backup engine (Readers);
//   - ESENT (Application 325, 326, 327, 216) creating, attaching or moving an ntds.dit
//     database outside Windows' NTDS folder.
//
// `vssadmin create shadow` and `wmic shadowcopy call create` alone are backups' daily work:
// they raise nothing, but are kept for an alert on the same host within Window. One alert per
// host and episode (stores copied less than Episodes.Window apart): the command, its file and
// handle events and the database engine's messages of one copy are one alert, and a reg save
// of SYSTEM for the boot key (lsa-secrets-dump) joins it through Episodes.
type CredentialStoreDump struct {
	// Readers are lower-case image base names whose reads of shadow-copied stores are
	// expected. Default: lsass.exe, wbengine.exe, vssvc.exe.
	Readers []string
	// Episodes groups the traces of one copy; NewCredentialStoreDump makes one when none is set.
	Episodes *CredEpisodes
	// Procs (may be nil) names the user of a process that wrote a copy, since older Sysmon
	// versions write none on file events.
	Procs *Processes

	shadows *credShadows
}

// NewCredentialStoreDump returns the detector with its defaults, remembering shadow copy
// creations on at most 1000 hosts for 10 minutes.
func NewCredentialStoreDump() *CredentialStoreDump {
	return &CredentialStoreDump{
		Readers:  []string{"lsass.exe", "wbengine.exe", "vssvc.exe"},
		Episodes: NewCredEpisodes(),
		shadows:  newCredShadows(1000),
	}
}

// Name implements detection.Detector.
func (d *CredentialStoreDump) Name() string { return "credential-store-dump" }

// credStoreTrace is what one event says: which store, with what evidence.
type credStoreTrace struct {
	store, file, what, user string
	evidence                *adjoinv1.Evidence
}

// Detect implements detection.Detector.
func (d *CredentialStoreDump) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	var tr credStoreTrace
	var ok bool
	f := ev.GetFields()
	switch id := ev.GetEventId(); {
	case id == 1 || id == 4688:
		p, isProc := credProcStartOf(ev)
		if !isProc {
			return nil
		}
		if credShadowCreate(p.commandLine) {
			d.shadows.add(ev.GetHost(), p.evidence(fmt.Sprintf("%d %s: %s", id, detection.BaseName(p.image), p.commandLine)))
			return nil
		}
		tr, ok = credStoreCommand(p)
	case id == 11 && detection.IsSysmon(ev):
		tr, ok = credStoreFile(ev, d.fileUser(ev))
	case (id == 4656 || id == 4663) && detection.IsSecurity(ev):
		if !d.expected(f["ProcessName"]) {
			tr, ok = credStoreHandle(ev)
		}
	case (id == 325 || id == 326 || id == 327 || id == 216) && strings.EqualFold(ev.GetChannel(), "Application"):
		tr, ok = credStoreESENT(ev)
	}
	if !ok {
		return nil
	}
	return []*adjoinv1.Alert{d.alert(ev, tr)}
}

func (d *CredentialStoreDump) alert(ev *adjoinv1.Event, tr credStoreTrace) *adjoinv1.Alert {
	technique, title := "T1003.003", "Credential dumping: Active Directory database (ntds.dit) copied"
	if tr.store == "hives" {
		technique, title = "T1003.002", "Credential dumping: SAM or SECURITY hive copied"
	}
	t := ev.GetTime().AsTime()
	key := credStoreKey(ev.GetHost(), tr.store)
	a := credAlert(ev, d.Name(), []string{tr.store, t.UTC().Format("2006-01-02T15:04:05")}, adjoinv1.Severity_SEVERITY_HIGH,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, []string{technique}, title,
		fmt.Sprintf("%s on %s%s: %s.", tr.what, ev.GetHost(), credStoreBy(tr.user), credOr(tr.file, "a credential store")))
	// ntdsutil ifm copies the SYSTEM and SECURITY hives beside ntds.dit: any store copied on
	// the host within the window is the same theft.
	stores := credKeys(credStoreKey(ev.GetHost(), "ntds"), credStoreKey(ev.GetHost(), "hives"))
	a.Id = d.Episodes.Claim(stores, credKeys(key), detection.TraceOf(ev), a.GetId())
	credAddEntity(a, detection.UserRef(tr.user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	a.Evidence = append(d.shadows.take(ev.GetHost(), t, d.Episodes.Window), tr.evidence)
	return a
}

func credStoreBy(user string) string {
	if user == "" {
		return ""
	}
	return ", run by " + user
}

// fileUser is the user Sysmon 15+ writes on file events, or else the one Procs knows.
func (d *CredentialStoreDump) fileUser(ev *adjoinv1.Event) string {
	if u := ev.GetFields()["User"]; u != "" {
		return u
	}
	return d.Procs.User(ev.GetHost(), ev.GetFields()["ProcessGuid"])
}

// expected reports whether image is one of the Readers.
func (d *CredentialStoreDump) expected(image string) bool {
	base := detection.BaseName(image)
	for _, r := range d.Readers {
		if base == r {
			return true
		}
	}
	return false
}

// credStoreOf names the store a path holds: "ntds" for ntds.dit, "hives" for the SAM and
// SECURITY hives (the file name alone, as in config\SAM or a copy named SAM), "" otherwise.
func credStoreOf(path string) string {
	base := detection.BaseName(strings.Trim(path, `"' `))
	switch base {
	case "ntds.dit":
		return "ntds"
	case "sam", "security":
		return "hives"
	}
	return ""
}

// credShadowCreate reports a command creating a volume shadow copy.
func credShadowCreate(cl string) bool {
	l := strings.ToLower(cl)
	return (strings.Contains(l, "vssadmin") && strings.Contains(l, "create") && strings.Contains(l, "shadow")) ||
		(strings.Contains(l, "shadowcopy") && strings.Contains(l, "call create"))
}

// credUserOf names the user of a Security event's subject, "" for machine and system sessions.
func credUserOf(f map[string]string) string {
	name := f["SubjectUserName"]
	if name == "" || name == "-" || entity.IsMachineAccount(name) || credProcSystemSession(f["SubjectLogonId"]) {
		return ""
	}
	return f["SubjectDomainName"] + `\` + name
}
