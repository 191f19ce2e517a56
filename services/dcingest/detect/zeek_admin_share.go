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
	// Window joins repeated mappings into one alert (default 10 min).
	Window time.Duration
	// MaxKeys bounds the source/target/share triples tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the mappings kept as evidence per alert (default 20).
	MaxEvidence int
	// CopyTolerance is how far apart two sensors' copies of one record may be (default 2 s).
	CopyTolerance time.Duration

	burst  *detection.Burst
	copies *zeekCopies
	evCap  zeekEvidenceCap
}

// NewZeekAdminShare returns the detector with its defaults.
func NewZeekAdminShare() *ZeekAdminShare {
	return &ZeekAdminShare{
		Window:        10 * time.Minute,
		MaxKeys:       zeekDefaultMaxKeys,
		MaxEvidence:   20,
		CopyTolerance: zeekDefaultCopyTolerance,
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
	if d.burst == nil {
		d.burst = &detection.Burst{Window: zeekOr(d.Window, 10*time.Minute), Threshold: 1, MaxKeys: zeekOr(d.MaxKeys, zeekDefaultMaxKeys)}
		d.copies = &zeekCopies{tolerance: zeekOr(d.CopyTolerance, zeekDefaultCopyTolerance), max: zeekOr(d.MaxKeys, zeekDefaultMaxKeys)}
	}
	subject := strings.ToLower(r.f["path"])
	if first, isCopy := d.copies.copyOf(r, subject); isCopy {
		return first.alerts()
	}
	ep := d.burst.Add(r.origH+"|"+r.respH+"|"+share, "", r.t)
	id := entity.HashID(d.Name(), r.origH, r.respH, share, zeekEpisode(ep.Start))
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
		Entities:        zeekEntities(r.sourceRef(), target),
	}
	a = zeekFinish(a, r, &d.evCap, d.MaxEvidence, d.copies.max, func() *adjoinv1.Evidence {
		return r.evidence("smb_mapping "+r.f["path"]+" "+r.conn(), "path", "share_type", "service", "native_file_system")
	})
	d.copies.remember(r, subject, a)
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
