package detect

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// networkDropExtensions are the file types that run code when started or loaded.
var networkDropExtensions = map[string]bool{
	".exe": true, ".dll": true, ".sys": true, ".scr": true, ".ps1": true, ".bat": true, ".cmd": true, ".vbs": true,
	".js": true, ".wsf": true, ".hta": true, ".msi": true, ".xll": true, ".cpl": true, ".ocx": true,
}

// NetworkFileDrop raises an alert when an executable or script is written to a host by the
// kernel's SMB server: Sysmon 11 (file created) whose Image is "System" (process 4) is a file
// another host copied over a share (ADMIN$, C$), the first step of PsExec, Impacket and
// Cobalt Strike's lateral movement. Files the system itself writes (Windows Update caches,
// ETW logs, shadow copies) are not executables, so they never match. One alert per host per
// episode of drops no more than Window apart.
type NetworkFileDrop struct {
	// Window is the longest gap within one episode (default 5 min).
	Window time.Duration
	// MaxHosts bounds the hosts whose episode is remembered (default 10000).
	MaxHosts int
	// IgnoreDirs are lower-case path prefixes where software deployment drops binaries by
	// design (default: the Windows servicing and software distribution folders).
	IgnoreDirs []string
	// DropDirs are the lower-case path parts that count: the folders an administrative share
	// (ADMIN$, C$) reaches and tools drop into. A file server's ordinary shared folders do not
	// match, so users copying installers there raise nothing. A file directly in a drive's root
	// counts too.
	DropDirs []string

	episodes *bounded.Map[string, *networkDropEpisode]
}

type networkDropEpisode struct{ start, last time.Time }

// NewNetworkFileDrop returns the detector with a 5 minute window and 10000 hosts.
func NewNetworkFileDrop() *NetworkFileDrop {
	return &NetworkFileDrop{Window: 5 * time.Minute, MaxHosts: 10000,
		IgnoreDirs: []string{`c:\windows\softwaredistribution\`, `c:\windows\winsxs\`, `c:\windows\servicing\`, `c:\windows\ccmcache\`},
		DropDirs: []string{`:\windows\`, `:\programdata\`, `:\users\public\`, `:\perflogs\`, `\appdata\`, `\temp\`, `:\$recycle.bin\`,
			`\start menu\programs\startup\`}}
}

// Name implements detection.Detector.
func (d *NetworkFileDrop) Name() string { return "network-executable-drop" }

// Detect implements detection.Detector.
func (d *NetworkFileDrop) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 11 || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	if !strings.EqualFold(strings.TrimSpace(f["Image"]), "System") {
		return nil
	}
	file := f["TargetFilename"]
	lower := strings.ToLower(file)
	dot := strings.LastIndexByte(lower, '.')
	if dot < 0 || !networkDropExtensions[lower[dot:]] || strings.Contains(lower[dot:], `\`) {
		return nil
	}
	for _, p := range d.IgnoreDirs {
		if strings.HasPrefix(lower, p) {
			return nil
		}
	}
	if !networkDropPlace(lower, d.DropDirs) {
		return nil
	}
	if d.episodes == nil {
		d.episodes = bounded.NewMap[string, *networkDropEpisode](d.MaxHosts)
	}
	t := ev.GetTime().AsTime()
	host, _ := entity.HostNames(ev.GetHost())
	e, ok := d.episodes.Get(host)
	if !ok || t.Sub(e.last) > d.Window || e.start.Sub(t) > d.Window {
		e = &networkDropEpisode{start: t, last: t}
		d.episodes.Put(host, e)
	}
	if t.After(e.last) {
		e.last = t
	}
	return []*adjoinv1.Alert{endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), host, detection.EpisodeID(e.start)),
		Title:           "Executable copied to the host over SMB",
		Description:     fmt.Sprintf("The SMB server (System) wrote %s on %s: a file copied from another host over a share.", file, ev.GetHost()),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1570", "T1021.002"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
		Evidence: []*adjoinv1.Evidence{{
			Kind: "sysmon", Summary: "11 System wrote " + file, Host: ev.GetHost(), Time: timestamppb.New(t), EventId: "11",
			RecordId: ev.GetRecordId(), Fields: detection.Pick(f, "Image", "ProcessId", "TargetFilename", "CreationUtcTime"),
		}},
	}, t)}
}

// networkDropPlace reports a lower-case path in one of dirs or directly in a drive's root.
func networkDropPlace(path string, dirs []string) bool {
	for _, d := range dirs {
		if strings.Contains(path, d) {
			return true
		}
	}
	return len(path) > 3 && path[1] == ':' && path[2] == '\\' && !strings.Contains(path[3:], `\`)
}
