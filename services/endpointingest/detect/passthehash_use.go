package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// pthUse remembers what tells a pass-the-hash session from runas /netonly: LSASS opened for
// writing on a host, the recent NewCredentials sessions of each host, and the processes of
// each session (for their network connections). Every table is bounded by the detector's
// MaxSessions; guarded by the detector's mutex.
type pthUse struct {
	injected *bounded.Map[string, *adjoinv1.Evidence] // host -> last LSASS write
	recent   *bounded.Map[string, []pthRecent]        // host -> last NewCredentials sessions
	procs    *bounded.Map[string, string]             // host|process GUID -> session key
}

type pthRecent struct {
	key string
	at  time.Time
}

// pthRecentPerHost bounds the sessions remembered per host for a later LSASS write.
const pthRecentPerHost = 8

func (u *pthUse) init(max int) {
	if u.injected == nil {
		u.injected = bounded.NewMap[string, *adjoinv1.Evidence](max)
		u.recent = bounded.NewMap[string, []pthRecent](max)
		u.procs = bounded.NewMap[string, string](max)
	}
}

// injectedNear returns the LSASS write on host within window of t, or nil.
func (u *pthUse) injectedNear(host string, t time.Time, window time.Duration) *adjoinv1.Evidence {
	if u.injected == nil {
		return nil
	}
	e, ok := u.injected.Get(pthHostKey(host))
	if !ok || pthAbs(e.GetTime().AsTime().Sub(t)) > window {
		return nil
	}
	return e
}

// logon remembers a NewCredentials session of host.
func (u *pthUse) logon(host, key string, t time.Time, max int) {
	u.init(max)
	h := pthHostKey(host)
	list, _ := u.recent.Get(h)
	list = append(list, pthRecent{key: key, at: t})
	if len(list) > pthRecentPerHost {
		list = list[len(list)-pthRecentPerHost:]
	}
	u.recent.Put(h, list)
}

// process remembers the session of a process, for its Sysmon 3.
func (u *pthUse) process(host, guid, key string, max int) {
	if guid == "" {
		return
	}
	u.init(max)
	u.procs.Put(pthHostKey(host)+"|"+entity.Fold(guid), key)
}

// injection handles a handle on lsass.exe: with PROCESS_VM_WRITE, by an image that is not one
// of Windows' own readers, it is what sekurlsa::pth does to put the hash into the session. The
// NewCredentials sessions of the host within Window become high.
func (d *PassTheHashLogon) injection(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	image, target, access := f["SourceImage"], f["TargetImage"], f["GrantedAccess"]
	if ev.GetEventId() == 4656 {
		image, target, access = f["ProcessName"], f["ObjectName"], f["AccessMask"]
	}
	mask, err := winevent.ParseHex(access)
	if err != nil || mask&0x20 == 0 || detection.BaseName(target) != "lsass.exe" || (&LSASSAccess{Readers: lsassReaders}).expected(image) {
		return nil
	}
	e := credEvidence(ev, pthKind(ev), fmt.Sprintf("%d %s -> lsass.exe %s (write: credentials injected)", ev.GetEventId(), detection.BaseName(image), access),
		detection.Pick(f, "SourceImage", "SourceProcessGUID", "GrantedAccess", "ProcessName", "ProcessId", "ObjectName", "AccessMask"))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.use.init(d.MaxSessions)
	h := pthHostKey(ev.GetHost())
	d.use.injected.Put(h, e)
	recent, _ := d.use.recent.Get(h)
	var out []*adjoinv1.Alert
	for _, r := range recent {
		s, ok := d.sessions.Get(r.key)
		if !ok || !s.pth || s.used != nil || pthAbs(r.at.Sub(ev.GetTime().AsTime())) > d.Window {
			continue
		}
		s.used = e
		desc := fmt.Sprintf("%s wrote to LSASS on %s next to the NewCredentials session: its credentials were injected.", image, ev.GetHost())
		out = append(out, d.alert(ev, r.key, desc, s.entities, nil, e))
	}
	return out
}

// network handles a Sysmon 3 connection: from a process of a pass-the-hash session to another
// host, it shows the session's credentials used on the network.
func (d *PassTheHashLogon) network(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	if ip, err := netip.ParseAddr(f["DestinationIp"]); err != nil || ip.IsLoopback() || strings.EqualFold(f["Initiated"], "false") {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.use.procs == nil {
		return nil
	}
	key, ok := d.use.procs.Get(pthHostKey(ev.GetHost()) + "|" + entity.Fold(f["ProcessGuid"]))
	if !ok {
		return nil
	}
	s, ok := d.sessions.Get(key)
	if !ok || !s.pth || s.used != nil {
		return nil
	}
	s.used = credEvidence(ev, "sysmon", fmt.Sprintf("3 %s -> %s:%s (the session's credentials on the network)", detection.BaseName(f["Image"]), f["DestinationIp"], f["DestinationPort"]),
		detection.Pick(f, "Image", "ProcessGuid", "User", "DestinationIp", "DestinationPort", "DestinationHostname"))
	desc := fmt.Sprintf("%s, in a pass-the-hash session on %s, connected to %s:%s.", f["Image"], ev.GetHost(), f["DestinationIp"], f["DestinationPort"])
	return []*adjoinv1.Alert{d.alert(ev, key, desc, s.entities, nil, s.used)}
}

func pthHostKey(host string) string {
	nb, _ := entity.HostNames(host)
	return nb
}

func pthKind(ev *adjoinv1.Event) string {
	if detection.IsSysmon(ev) {
		return "sysmon"
	}
	return "windows-event"
}
