package detect

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// psexecServiceBinaries are the service executables PsExec and its clones install on the target.
var psexecServiceBinaries = []string{"psexesvc", "remcomsvc", "csexecsvc", "paexec"}

// psexecPipePrefixes are the named pipes those services create (lower case, with the leading \).
var psexecPipePrefixes = []string{`\psexesvc`, `\remcom_`, `\remcom`, `\csexecsvc`, `\paexec`}

// psexecPipeSuffixes end the per-client pipes PsExec makes under any service name
// (`PsExec -r name` gives \name-HOST-1234-stdin): matched whatever the name.
var psexecPipeSuffixes = []string{"-stdin", "-stdout", "-stderr"}

// psexecClients are the PsExec client images; their user is the actor of a self-targeted run.
var psexecClients = map[string]bool{"psexec.exe": true, "psexec64.exe": true, "paexec.exe": true, "remcom.exe": true, "csexec.exe": true}

// psexecInterpreters are what a remote-execution service runs: Empire's Invoke-PsExec installs
// "%COMSPEC% /C start /b powershell ...", Impacket smbexec "cmd.exe /Q /c ...".
var psexecInterpreters = map[string]bool{
	"cmd.exe": true, "powershell.exe": true, "pwsh.exe": true, "wscript.exe": true, "cscript.exe": true, "mshta.exe": true,
}

// PsExecService raises an alert when PsExec-style remote execution shows on the host it
// targets: the PSEXESVC (or RemCom, csexec, PAExec) service binary written, registered and
// started, its named pipes, the commands it runs, and services that run a command interpreter
// or a binary dropped in the Windows directory (Empire Invoke-PsExec, Covenant SharpSC,
// Impacket, Metasploit) — services.exe writing the service's ImagePath (Sysmon 13) and
// starting it as a child (Sysmon 1, 4688). Events of one execution on one host (less than
// Window apart) are one alert.
//
// services.exe starting an interpreter is not enough on its own: at boot, services.exe starts
// every service whose image is a script or a cmd.exe line. Such a start (and what its
// interpreter runs) only joins an execution that something else shows (a service registered,
// a PsExec binary or pipe) within Window before or after; until then it is held, at most
// MaxHeld per host.
type PsExecService struct {
	// Window is the longest quiet gap within one execution on a host.
	Window time.Duration
	// MaxHosts bounds the hosts whose current execution (and last PsExec client start) is
	// remembered; MaxProcesses the interpreter processes services.exe started, whose children
	// are part of the execution.
	MaxHosts, MaxProcesses int
	// MaxHeld bounds the interpreter starts held per host until a service registration shows.
	MaxHeld int
	// AllowedServiceImages are lower-case base names of services legitimately installed with a
	// binary in the Windows directory (Sysinternals Sysmon does this).
	AllowedServiceImages map[string]bool

	mu    sync.Mutex
	hosts bounded.Map[string, *psexecHost] // NetBIOS name -> current execution
	procs bounded.Map[string, bool]        // host|process GUID of interpreters services.exe started
}

type psexecHost struct {
	start, first, last time.Time // episode name and span; zero start means none yet
	approx             bool      // the span comes from an hour-ambiguous clock
	client             *adjoinv1.Evidence
	clientUser         string
	held               []*adjoinv1.Evidence // interpreter starts by services.exe awaiting an execution
}

// NewPsExecService returns the detector with a 2 minute gap, 10000 hosts and processes, 16
// held starts per host, and Sysmon allowed as a Windows-directory service binary.
func NewPsExecService() *PsExecService {
	return &PsExecService{Window: 2 * time.Minute, MaxHosts: 10000, MaxProcesses: 10000, MaxHeld: 16,
		AllowedServiceImages: map[string]bool{"sysmon.exe": true, "sysmon64.exe": true}}
}

// Name implements detection.Detector.
func (d *PsExecService) Name() string { return "psexec-service-execution" }

// Detect implements detection.Detector.
func (d *PsExecService) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	var what string
	var weak bool
	var fields map[string]string
	switch {
	case ev.GetEventId() == 1 && detection.IsSysmon(ev):
		if psexecClients[detection.BaseName(f["Image"])] || psexecClients[entity.Fold(f["OriginalFileName"])] {
			d.rememberClient(ev)
			return nil
		}
		what, weak = d.process(ev.GetHost(), f["Image"], f["ParentImage"], f["ProcessGuid"], f["ParentProcessGuid"], f["OriginalFileName"])
		fields = detection.Pick(f, "Image", "CommandLine", "ParentImage", "ProcessGuid", "ParentProcessGuid", "User", "LogonId")
	case ev.GetEventId() == 4688 && detection.IsSecurity(ev):
		what, weak = d.process(ev.GetHost(), f["NewProcessName"], f["ParentProcessName"], "", "", "")
		fields = detection.Pick(f, "NewProcessName", "CommandLine", "ParentProcessName", "SubjectUserName", "SubjectLogonId", "TargetUserName", "TargetLogonId")
	case ev.GetEventId() == 11 && detection.IsSysmon(ev):
		if psexecIsServiceBinary(f["TargetFilename"]) {
			what = "service binary " + f["TargetFilename"] + " written by " + detection.BaseName(f["Image"])
		}
		fields = detection.Pick(f, "Image", "ProcessGuid", "TargetFilename")
	case ev.GetEventId() == 13 && detection.IsSysmon(ev):
		if d.serviceImagePath(f["TargetObject"], f["Details"], f["Image"]) {
			what = "service registered: " + f["TargetObject"] + " = " + f["Details"]
		}
		fields = detection.Pick(f, "Image", "ProcessGuid", "TargetObject", "Details", "EventType", "EventTypeOrignal")
	case (ev.GetEventId() == 17 || ev.GetEventId() == 18) && detection.IsSysmon(ev):
		if psexecPipe(f["PipeName"]) {
			what = "pipe " + f["PipeName"] + " by " + detection.BaseName(f["Image"])
		}
		fields = detection.Pick(f, "Image", "ProcessGuid", "PipeName", "EventType", "EventTypeOrignal")
	}
	if what == "" {
		return nil
	}
	kind := "sysmon"
	if ev.GetEventId() == 4688 {
		kind = "windows-event"
	}
	evidence := []*adjoinv1.Evidence{{
		Kind:     kind,
		Summary:  strconv.Itoa(int(ev.GetEventId())) + " " + what,
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  strconv.Itoa(int(ev.GetEventId())),
		RecordId: ev.GetRecordId(),
		Fields:   fields,
	}}
	if weak && !d.hold(ev.GetHost(), ev.GetTime().AsTime(), evidence[0]) {
		return nil
	}
	start, client, clientUser, held := d.episode(ev.GetHost(), ev.GetTime().AsTime(), ev.GetTimeApproximate())
	evidence = append(evidence, held...)
	entities := []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	if client != nil {
		evidence = append(evidence, client)
		if ref := detection.UserRef(clientUser, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
			entities = append(entities, ref)
		}
	}
	t := ev.GetTime()
	nb, _ := entity.HostNames(ev.GetHost())
	return []*adjoinv1.Alert{endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), nb, detection.EpisodeID(start)),
		Title:           "PsExec-style remote service execution",
		Description:     fmt.Sprintf("PsExec-style service execution on %s: %s.", ev.GetHost(), what),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXECUTION,
		MitreTechniques: []string{"T1569.002"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        entities,
		Evidence:        evidence,
	}, t.AsTime())}
}

// process classifies a process start: the service binary itself, a command it runs, an
// interpreter started by services.exe, or that interpreter's child interpreter. The last two
// are weak: a boot starts such services too.
func (d *PsExecService) process(host, image, parent, guid, parentGUID, original string) (what string, weak bool) {
	base, pbase := detection.BaseName(image), detection.BaseName(parent)
	switch {
	case psexecIsServiceBinary(image) || psexecIsServiceBinary(original):
		return "service process " + image + " started by " + pbase, false
	case psexecIsServiceBinary(parent):
		return pbase + " ran " + image, false
	case pbase == "services.exe" && psexecInterpreters[base]:
		d.rememberProcess(host, guid)
		return "services.exe started " + image, true
	case psexecInterpreters[base] && d.knownProcess(host, parentGUID):
		return "service-started " + pbase + " ran " + image, true
	}
	return "", false
}

// serviceImagePath reports whether a Sysmon 13 value is the ImagePath of a service that
// executes remotely: a PsExec-family binary, or — written by services.exe, that is created
// through the service control manager — a command interpreter or an executable dropped
// directly in the Windows directory or a user-writable folder.
func (d *PsExecService) serviceImagePath(target, details, image string) bool {
	t := entity.Fold(target)
	if !strings.Contains(t, `\services\`) || !strings.HasSuffix(t, `\imagepath`) {
		return false
	}
	v := strings.ReplaceAll(entity.Fold(details), "%%", "%")
	if psexecIsServiceBinary(psexecFirstToken(v)) || strings.Contains(t, `\services\psexesvc\`) {
		return true
	}
	if detection.BaseName(image) != "services.exe" {
		return false
	}
	exe := psexecFirstToken(v)
	base := detection.BaseName(exe)
	if exe == "%comspec%" || psexecInterpreters[base] || psexecInterpreters[base+".exe"] {
		return true
	}
	if !strings.HasSuffix(base, ".exe") || base == "svchost.exe" || d.AllowedServiceImages[base] {
		return false
	}
	dir := strings.TrimSuffix(exe, base)
	for _, p := range []string{`%systemroot%\`, `c:\windows\`, `%systemroot%\system32\`, `c:\windows\system32\`, `c:\windows\syswow64\`, `%windir%\`} {
		if dir == p {
			return true
		}
	}
	return inUserFolder(exe)
}

// psexecFirstToken is the executable of a command line: the quoted part, or up to the first space.
func psexecFirstToken(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, `"`) {
		if i := strings.IndexByte(cmd[1:], '"'); i >= 0 {
			return cmd[1 : i+1]
		}
	}
	if i := strings.IndexByte(cmd, ' '); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

func psexecIsServiceBinary(p string) bool {
	base := detection.BaseName(p)
	if !strings.HasSuffix(base, ".exe") {
		return false
	}
	for _, b := range psexecServiceBinaries {
		if strings.HasPrefix(base, b) && base != "paexec.exe" { // paexec.exe is the client; its service is PAExec-<pid>-<host>.exe
			return true
		}
	}
	return false
}

// episode returns the start of the execution at t on host (opening one if the host has none
// within Window), and the PsExec client start seen there, if any. approx marks a time that is
// only right to the hour (the PowerShell export's 12-hour local TimeCreated, for Security
// events): it joins an execution at any whole-hour offset, and an execution opened by such an
// event is anchored by the first exact time that joins it the same way.
func (d *PsExecService) episode(host string, t time.Time, approx bool) (time.Time, *adjoinv1.Evidence, string, []*adjoinv1.Evidence) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.host(host)
	var held []*adjoinv1.Evidence
	for _, e := range h.held {
		if pthAbs(e.GetTime().AsTime().Sub(t)) <= d.Window {
			held = append(held, e)
		}
	}
	h.held = nil
	within := func(x time.Time) bool { return !x.Before(h.first.Add(-d.Window)) && !x.After(h.last.Add(d.Window)) }
	joined := !h.start.IsZero() && within(t) // events may come newest first, so t may precede first
	if !joined && !h.start.IsZero() && (approx || h.approx) {
		for k := -23; k <= 23 && !joined; k++ {
			if within(t.Add(time.Duration(k) * time.Hour)) {
				joined = true
				if h.approx && !approx { // re-anchor the span on the exact clock
					h.first, h.last, h.approx = t, t, false
				}
			}
		}
		if joined && approx {
			return h.start, d.clientNear(h, h.first), h.clientUser, held
		}
	}
	if !joined {
		h.start, h.first, h.last, h.approx = t, t, t, approx
	}
	if t.Before(h.first) {
		h.first = t
	}
	if t.After(h.last) {
		h.last = t
	}
	return h.start, d.clientNear(h, t), h.clientUser, held
}

// clientNear is the host's last PsExec client start if it is within Window of t; mu held.
func (d *PsExecService) clientNear(h *psexecHost, t time.Time) *adjoinv1.Evidence {
	if h.client != nil && pthAbs(h.client.GetTime().AsTime().Sub(t)) <= d.Window {
		return h.client
	}
	return nil
}

func (d *PsExecService) rememberClient(ev *adjoinv1.Event) {
	f := ev.GetFields()
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.host(ev.GetHost())
	h.clientUser = f["User"]
	h.client = &adjoinv1.Evidence{
		Kind:     "sysmon",
		Summary:  fmt.Sprintf("1 PsExec client %s run by %s", f["CommandLine"], f["User"]),
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  "1",
		RecordId: ev.GetRecordId(),
		Fields:   detection.Pick(f, "Image", "CommandLine", "ParentImage", "ProcessGuid", "User", "LogonId", "OriginalFileName"),
	}
}

// host returns the state of a host, creating it (and dropping the oldest) if needed; mu held.
func (d *PsExecService) host(name string) *psexecHost {
	nb, _ := entity.HostNames(name)
	return detection.Entry(&d.hosts, d.MaxHosts, nb)
}

func (d *PsExecService) rememberProcess(host, guid string) {
	if guid == "" {
		return
	}
	key := processKey(host, guid)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.procs.Max = d.MaxProcesses
	d.procs.Put(key, true)
}

func (d *PsExecService) knownProcess(host, guid string) bool {
	if guid == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	known, _ := d.procs.Get(processKey(host, guid))
	return known
}
