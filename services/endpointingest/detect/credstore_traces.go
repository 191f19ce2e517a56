package detect

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The traces credential-store-dump reads, one function an event kind.

// credStoreCommand reads a process start: ntdsutil ifm, esentutl copying a store, or a copy
// out of a shadow copy.
func credStoreCommand(p credProcStart) (credStoreTrace, bool) {
	l := strings.ToLower(p.commandLine)
	tr := credStoreTrace{user: p.user, what: detection.BaseName(p.image) + " ran " + strings.TrimSpace(p.commandLine)}
	switch {
	case (p.isImage("ntdsutil.exe") || strings.Contains(l, "ntdsutil")) && strings.Contains(l, "ifm"):
		tr.store, tr.file = "ntds", "ntds.dit (install from media)"
	case p.isImage("esentutl.exe") || strings.Contains(l, "esentutl"):
		if !strings.Contains(l, "/y") && !strings.Contains(l, "/vss") {
			return tr, false
		}
		tr.store, tr.file = credStoreNamed(p.commandLine)
	case strings.Contains(l, "harddiskvolumeshadowcopy"):
		tr.store, tr.file = credStoreNamed(p.commandLine)
	}
	if tr.store == "" {
		return tr, false
	}
	tr.evidence = p.evidence(fmt.Sprintf("%d %s: %s", p.ev.GetEventId(), detection.BaseName(p.image), tr.file))
	return tr, true
}

// credStoreNamed finds the first argument of a command line that is a credential store.
func credStoreNamed(cl string) (store, file string) {
	for _, arg := range strings.Fields(cl) {
		arg = strings.Trim(arg, `"'`)
		if s := credStoreOf(arg); s != "" {
			return s, arg
		}
	}
	return "", ""
}

// credStoreFile reads a Sysmon 11: ntds.dit written anywhere but an NTDS folder, SAM or
// SECURITY anywhere but a config folder (and Windows' component store).
func credStoreFile(ev *adjoinv1.Event, user string) (credStoreTrace, bool) {
	f := ev.GetFields()
	target := f["TargetFilename"]
	store := credStoreOf(target)
	if store == "" || credStoreHome(target, store) {
		return credStoreTrace{}, false
	}
	return credStoreTrace{store: store, file: target, user: user,
		what: detection.BaseName(f["Image"]) + " wrote a copy of a credential store",
		evidence: credEvidence(ev, "sysmon", fmt.Sprintf("11 %s -> %s", detection.BaseName(f["Image"]), target),
			detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "TargetFilename", "CreationUtcTime", "User"))}, true
}

// credStoreHome reports whether path is where Windows keeps the store: ntds.dit in a folder
// named NTDS (wherever the DC put it), hives in a config folder, or Windows' component store.
func credStoreHome(path, store string) bool {
	l := strings.ToLower(strings.ReplaceAll(path, "/", `\`))
	if strings.Contains(l, `\winsxs\`) || strings.Contains(l, `\servicing\`) {
		return true
	}
	if store == "ntds" {
		return strings.HasSuffix(l, `\ntds\ntds.dit`)
	}
	return strings.Contains(l, `\config\`)
}

// credStoreHandle reads a Security 4656/4663 on a store inside a volume shadow copy.
func credStoreHandle(ev *adjoinv1.Event) (credStoreTrace, bool) {
	f := ev.GetFields()
	obj := f["ObjectName"]
	if !strings.EqualFold(f["ObjectType"], "File") || !strings.Contains(strings.ToLower(obj), "harddiskvolumeshadowcopy") {
		return credStoreTrace{}, false
	}
	store := credStoreOf(obj)
	if store == "" {
		return credStoreTrace{}, false
	}
	return credStoreTrace{store: store, file: obj, user: credUserOf(f),
		what: detection.BaseName(f["ProcessName"]) + " opened a credential store in a shadow copy",
		evidence: credEvidence(ev, "windows-event", fmt.Sprintf("%d %s -> %s %s", ev.GetEventId(), detection.BaseName(f["ProcessName"]), obj, f["AccessMask"]),
			detection.Pick(f, "ProcessName", "ProcessId", "ObjectName", "ObjectType", "AccessMask", "SubjectUserName", "SubjectDomainName", "SubjectLogonId"))}, true
}

// credStoreESENT reads an ESENT message (Application 216, 325-327; the fields are only in
// the message text) naming an ntds.dit outside an NTDS folder and outside a shadow copy or
// snapshot mount, which backups use: a new database built by ntdsutil ifm or a copy.
func credStoreESENT(ev *adjoinv1.Event) (credStoreTrace, bool) {
	msg := ev.GetFields()["Message"]
	l := strings.ToLower(msg)
	for from := 0; ; {
		i := strings.Index(l[from:], "ntds.dit")
		if i < 0 {
			return credStoreTrace{}, false
		}
		end := from + i + len("ntds.dit")
		path := msg[credPathStart(l[:end]):end]
		from = end
		pl := strings.ToLower(path)
		if credStoreHome(path, "ntds") || strings.Contains(pl, "shadowcopy") || strings.Contains(pl, "$snap_") {
			continue
		}
		first, _, _ := strings.Cut(msg, "\n")
		return credStoreTrace{store: "ntds", file: path, what: "the database engine (ESENT) opened a copy of the directory database",
			evidence: credEvidence(ev, "windows-event", fmt.Sprintf("%d ESENT: %s", ev.GetEventId(), strings.TrimSpace(first)), map[string]string{"Message": strings.TrimSpace(first)})}, true
	}
}

// credPathStart finds where the path ending s starts: after the last quote, parenthesis or
// ", " before it.
func credPathStart(s string) int {
	start := 0
	for _, delim := range []string{"'", `"`, "(", ", "} {
		if i := strings.LastIndex(s, delim); i >= 0 && i+len(delim) > start {
			start = i + len(delim)
		}
	}
	return start
}

// credShadows remembers, per host, the shadow copy creations of the last minutes, so an
// alert on a store copy carries the shadow copy it came from. At most 4 a host and maxHosts
// hosts (the oldest forgotten first).
type credShadows struct {
	mu sync.Mutex
	m  *bounded.Map[string, []*adjoinv1.Evidence]
}

func newCredShadows(maxHosts int) *credShadows {
	return &credShadows{m: bounded.NewMap[string, []*adjoinv1.Evidence](maxHosts)}
}

func (s *credShadows) add(host string, e *adjoinv1.Evidence) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nb, _ := entity.HostNames(host)
	list, _ := s.m.Get(nb)
	list = append(list, e)
	if len(list) > 4 {
		list = list[len(list)-4:]
	}
	s.m.Put(nb, list)
}

// take returns the creations on host within window before t.
func (s *credShadows) take(host string, t time.Time, window time.Duration) []*adjoinv1.Evidence {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nb, _ := entity.HostNames(host)
	list, _ := s.m.Get(nb)
	var out []*adjoinv1.Evidence
	for _, e := range list {
		if at := e.GetTime().AsTime(); !at.After(t) && t.Sub(at) <= window {
			out = append(out, e)
		}
	}
	return out
}
