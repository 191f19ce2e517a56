package detect

import (
	"strings"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// RemoteHiveDump raises an alert when credential stores leave a host over SMB (Security 5145
// on the host that serves them):
//   - a file named SAM, SECURITY or ntds.dit (a hive or the directory database, from its
//     folder, a shadow copy @GMT path or wherever a tool saved it) read over any share;
//   - the remote registry pipe (IPC$ winreg) opened, then within Window a .tmp file under
//     Temp read over ADMIN$ or C$ by the same source: secretsdump-style RegSaveKey of the
//     hives into %SystemRoot%\Temp and their download.
//
// The winreg pipe alone is remote administration and raises nothing. One alert per host,
// source address (or logon session) and episode: the hives of one dump are one alert.
type RemoteHiveDump struct {
	// Window is how long after a winreg open a Temp file read counts as its download, and how
	// far apart the reads of one dump may be.
	Window time.Duration
	// MaxSources bounds the sources remembered; the oldest are forgotten.
	MaxSources int

	mu      sync.Mutex
	sources *bounded.Map[string, remoteHiveSource]
}

type remoteHiveSource struct {
	winreg  *adjoinv1.Evidence // last winreg open
	episode time.Time          // first alerted read, zero before
	last    time.Time
}

// NewRemoteHiveDump returns the detector with a 2 minute window and 10000 sources.
func NewRemoteHiveDump() *RemoteHiveDump {
	return &RemoteHiveDump{Window: 2 * time.Minute, MaxSources: 10_000}
}

// Name implements detection.Detector.
func (d *RemoteHiveDump) Name() string { return "remote-hive-dump" }

// Detect implements detection.Detector.
func (d *RemoteHiveDump) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 5145 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	name := strings.ToLower(strings.ReplaceAll(f["RelativeTargetName"], "/", `\`))
	share := strings.ToLower(f["ShareName"])
	ip := winevent.ClientAddress(f["IpAddress"])
	src := ip
	if src == "" {
		src = "logon:" + normHex(f["SubjectLogonId"])
	}
	key := rsvcHost(ev.GetHost()) + "|" + src
	t := ev.GetTime().AsTime()
	summary := "5145 " + f["SubjectUserName"] + " " + f["ShareName"] + `\` + f["RelativeTargetName"] + " from " + winAddr(ip)
	e := adjEvidence(ev, summary, "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ShareName",
		"RelativeTargetName", "IpAddress", "AccessMask")
	base := name[strings.LastIndex(name, `\`)+1:]
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sources == nil {
		d.sources = bounded.NewMap[string, remoteHiveSource](d.MaxSources)
	}
	s, _ := d.sources.Get(key)
	technique := "T1003.002"
	switch {
	case strings.HasSuffix(share, `ipc$`) && strings.Trim(name, `\`) == "winreg":
		s.winreg = e
		d.sources.Put(key, s)
		return nil
	case base == "sam" || base == "security":
	case base == "ntds.dit":
		technique = "T1003.003"
	case strings.HasSuffix(base, ".tmp") && strings.Contains(name, `temp\`) && (strings.HasSuffix(share, `admin$`) || strings.HasSuffix(share, `c$`)) &&
		s.winreg != nil && t.Sub(s.winreg.GetTime().AsTime()) >= 0 && t.Sub(s.winreg.GetTime().AsTime()) <= d.Window:
	default:
		return nil
	}
	if s.episode.IsZero() || t.Sub(s.last) > d.Window {
		s.episode = t
	}
	s.last = t
	d.sources.Put(key, s)
	evidence := []*adjoinv1.Evidence{e}
	if s.winreg != nil {
		evidence = append([]*adjoinv1.Evidence{s.winreg}, evidence...)
	}
	user, domain := f["SubjectUserName"], f["SubjectDomainName"]
	a := credAccessAlert(entity.HashID(d.Name(), key, detection.EpisodeID(s.episode)), d.Name(),
		"Credential dumping: registry hives or directory database read over SMB",
		domain+`\`+user+" read "+f["ShareName"]+`\`+f["RelativeTargetName"]+" on "+ev.GetHost()+" from "+winAddr(ip)+
			": credential stores copied off the host over the network.",
		adjoinv1.Severity_SEVERITY_HIGH, technique, ev, s.episode, evidence)
	a.Entities = credAccessEntities(adjUser(f["SubjectUserSid"], user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		credAccessDC(ev), credAccessSource{IP: ip}.ref())
	return []*adjoinv1.Alert{a}
}
