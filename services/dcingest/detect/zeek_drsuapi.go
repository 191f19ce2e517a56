package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ZeekDRSReplication raises an alert when Zeek's dce_rpc.log shows a directory replication
// call (drsuapi DRSGetNCChanges, the call mimikatz lsadump::dcsync, Impacket secretsdump and
// Covenant make to pull password hashes) from an address that is not a domain controller:
// DCSync seen from the network (T1003.006).
//
// Domain controllers replicate with each other all the time, so the detector must know their
// addresses: IsDC answers for one address. With IsDC nil every address is unknown and the
// detector stays silent rather than alert on every DC-to-DC replication; give it the DC list
// (ZeekDCAddresses) to enable it.
//
// The account is named when the record has a "client" column (the DC traffic sensor fills it
// from the Kerberos ticket or NTLM message that authenticated the connection).
//
// One alert per source, target and episode: calls from one client to one DC less than Window
// apart, whichever sensors saw them, belong to one alert.
type ZeekDRSReplication struct {
	// IsDC reports whether an address (as Zeek writes it, IPv4-mapped forms unmapped) is a
	// domain controller. nil disables the detector.
	IsDC func(ip string) bool
	// Operations are the drsuapi operations that count, compared without case (default
	// DRSGetNCChanges). The APT29 samples hold DRSBind, DRSCrackNames,
	// DRSDomainControllerInfo and DRSWriteSPN, which every domain member makes.
	Operations []string
	// ZeekEpisodes key alerts by source and target (defaults: Window 10 min, 50 records as
	// evidence: a full dcsync makes one GetNCChanges per batch of objects).
	ZeekEpisodes
}

// NewZeekDRSReplication returns the detector with its defaults. isDC tells whether an address
// is a domain controller; nil leaves the detector silent (see ZeekDRSReplication).
func NewZeekDRSReplication(isDC func(ip string) bool) *ZeekDRSReplication {
	return &ZeekDRSReplication{
		IsDC:         isDC,
		Operations:   []string{"DRSGetNCChanges"},
		ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50),
	}
}

// ZeekDCAddresses returns an IsDC function for NewZeekDRSReplication from the domain
// controllers' addresses or prefixes ("10.0.0.4", "10.0.0.0/29"). It fails on an entry that
// is neither, so that a typo in configuration does not silently turn DCs into attackers.
func ZeekDCAddresses(entries ...string) (func(ip string) bool, error) {
	var prefixes []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("domain controller address %q: not an address or prefix", e)
		}
		a = a.Unmap()
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return func(ip string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}, nil
}

// Name implements detection.Detector.
func (d *ZeekDRSReplication) Name() string { return "zeek-drsuapi-replication" }

// Detect implements detection.Detector.
func (d *ZeekDRSReplication) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if d.IsDC == nil {
		return nil
	}
	r, ok := zeekRecordOf(ev, "dce_rpc")
	if !ok || !strings.EqualFold(r.f["endpoint"], "drsuapi") {
		return nil
	}
	op := r.f["operation"]
	if !d.counts(op) || d.IsDC(r.origH) {
		return nil
	}
	d.start(10*time.Minute, 1)
	if first, isCopy := d.copies.copyOf(r, op); isCopy {
		return first.alerts()
	}
	ep := d.burst.Add(r.origH+"|"+r.respH, "", r.t)
	id := entity.HashID(d.Name(), r.origH, r.respH, detection.EpisodeID(ep.Start))
	a := &adjoinv1.Alert{
		Id:       id,
		Title:    "Directory replication (DRSGetNCChanges) from a non-DC address",
		Detector: d.Name(),
		Description: r.origH + " asked " + r.respH + " to replicate directory data over DRSUAPI (" + op +
			") without being a domain controller, as a DCSync does (" + zeekSource(r) + " on " + r.conn() + ").",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.006"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        detection.Refs(zeekClientRef(r, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), r.sourceRef(), r.targetRef()),
	}
	a = d.finish(a, r, op, func() *adjoinv1.Evidence {
		return r.evidence("dce_rpc drsuapi "+op+" "+r.conn(), "endpoint", "operation", "named_pipe", "client")
	})
	return []*adjoinv1.Alert{a}
}

// counts reports whether op is one of the configured operations.
func (d *ZeekDRSReplication) counts(op string) bool {
	for _, o := range d.Operations {
		if strings.EqualFold(strings.TrimSpace(op), o) {
			return true
		}
	}
	return false
}
