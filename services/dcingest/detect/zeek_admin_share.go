package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ZeekAdminShare raises an alert when Zeek's smb_mapping.log shows a client mapping an
// administrative share of another computer — \\HOST\ADMIN$ or a drive share such as \\HOST\C$
// — the way PsExec, Impacket's smbexec/wmiexec and manual lateral movement copy tools and
// payloads (T1021.002). IPC$, SYSVOL, NETLOGON and ordinary shares are not counted: every
// domain member maps them.
//
// Administrators map these shares too; the alert says who did, from where, to which host, so
// that a triage rule can drop known admin workstations.
//
// One alert per source, target, share and episode: mappings less than Window apart, from any
// sensor, belong to one alert.
type ZeekAdminShare struct {
	// ZeekEpisodes key alerts by source, target and share (defaults: Window 10 min, 20
	// mappings as evidence).
	ZeekEpisodes
}

// NewZeekAdminShare returns the detector with its defaults.
func NewZeekAdminShare() *ZeekAdminShare {
	return &ZeekAdminShare{
		ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 20),
	}
}

// Name implements detection.Detector.
func (d *ZeekAdminShare) Name() string { return "zeek-admin-share" }

// Detect implements detection.Detector.
func (d *ZeekAdminShare) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "smb_mapping")
	if !ok {
		return nil
	}
	host, share := zeekUNC(r.f["path"])
	if !zeekAdminShareName(share) {
		return nil
	}
	d.start(10*time.Minute, 1)
	subject := strings.ToLower(r.f["path"])
	if first, isCopy := d.copies.copyOf(r, subject); isCopy {
		return first.alerts()
	}
	ep := d.burst.Add(r.origH+"|"+r.respH+"|"+share, "", r.t)
	id := entity.HashID(d.Name(), r.origH, r.respH, share, detection.EpisodeID(ep.Start))
	target := r.targetRef()
	if target == nil {
		target = &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET}
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil && host != "" {
		// The UNC host names the target too: both names, so that it joins host events
		// that carry either.
		nb, fqdn := entity.HostNames(host)
		target.NetbiosName = nb
		if fqdn != "" {
			target.DnsHostName = host
		}
	}
	if target.GetIp() == "" && target.GetDnsHostName() == "" && target.GetNetbiosName() == "" {
		target = nil
	}
	a := &adjoinv1.Alert{
		Id:       id,
		Title:    "Administrative share mapped over SMB (" + strings.ToUpper(share) + ")",
		Detector: d.Name(),
		Description: r.origH + " mapped " + r.f["path"] + " on " + r.respH +
			"; administrative shares are how PsExec-style tools and operators copy payloads to a remote host.",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1021.002"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        detection.Refs(r.sourceRef(), target),
	}
	a = d.finish(a, r, subject, func() *adjoinv1.Evidence {
		return r.evidence("smb_mapping "+r.f["path"]+" "+r.conn(), "path", "share_type", "service", "native_file_system")
	})
	return []*adjoinv1.Alert{a}
}

// zeekUNC splits \\host\share[\rest] into the host as written and the folded share name.
func zeekUNC(path string) (host, share string) {
	p := strings.TrimLeft(strings.TrimSpace(path), `\`)
	host, rest, ok := strings.Cut(p, `\`)
	if !ok {
		return "", ""
	}
	share, _, _ = strings.Cut(rest, `\`)
	return host, entity.Fold(share)
}

// zeekAdminShareName reports whether a folded share name is ADMIN$ or a drive share (C$).
func zeekAdminShareName(share string) bool {
	if share == "admin$" {
		return true
	}
	return len(share) == 2 && share[1] == '$' && share[0] >= 'a' && share[0] <= 'z'
}
