package detect

import (
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// zeekSAMRListingOperations list a domain's users, groups or aliases, or a group's members:
// the calls of `net user /domain`, `net group "Domain Admins" /domain` and Impacket's
// samrdump.
var zeekSAMRListingOperations = []string{
	"SamrEnumerateUsersInDomain", "SamrEnumerateGroupsInDomain", "SamrEnumerateAliasesInDomain",
	"SamrQueryDisplayInformation", "SamrQueryDisplayInformation2", "SamrQueryDisplayInformation3",
	"SamrGetMembersInGroup", "SamrGetMembersInAlias",
}

// ZeekSAMRListing raises an alert when dce_rpc shows one SAMR call that lists a domain's
// accounts or a group's members (zeekSAMRListingOperations): the network side of what the
// host logs show as 4661 on SAM_DOMAIN (samr-enumeration). zeek-samr-enumeration waits for a
// burst of distinct calls; a single `net user /domain` makes two, so this one alerts on the
// listing itself (T1087.002, T1069.002). Domain controllers (IsDC) are left out.
//
// One alert per client, target and episode.
type ZeekSAMRListing struct {
	// IsDC reports whether an address is a domain controller; nil: none is known.
	IsDC func(ip string) bool
	// ZeekEpisodes key alerts by client and target (defaults: Window 10 min, 50 calls).
	ZeekEpisodes
}

// NewZeekSAMRListing returns the detector with its defaults.
func NewZeekSAMRListing(isDC func(ip string) bool) *ZeekSAMRListing {
	return &ZeekSAMRListing{IsDC: isDC, ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *ZeekSAMRListing) Name() string { return "zeek-samr-domain-listing" }

// Detect implements detection.Detector.
func (d *ZeekSAMRListing) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "dce_rpc")
	if !ok || !strings.EqualFold(r.f["endpoint"], "samr") || (d.IsDC != nil && d.IsDC(r.origH)) {
		return nil
	}
	op := strings.TrimSpace(r.f["operation"])
	listing := false
	for _, o := range zeekSAMRListingOperations {
		listing = listing || strings.EqualFold(op, o)
	}
	if !listing {
		return nil
	}
	return d.raise(d.Name(), r, zeekFinding{
		subject: op,
		title:   "Domain accounts listed over SAMR (network)",
		desc: r.origH + zeekWho(r) + " listed accounts of the domain from " + r.respH + " over SAMR (" + op +
			"), as `net user /domain` and account discovery tools do (" + zeekSource(r) + " on " + r.conn() + ").",
		severity: adjoinv1.Severity_SEVERITY_MEDIUM,
		phase:    adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE,
		mitre:    []string{"T1087.002", "T1069.002"},
		user:     zeekClientRef(r, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		summary:  "dce_rpc samr " + op + " " + r.conn(),
		keys:     []string{"endpoint", "operation", "named_pipe", "client"},
	}, 10*time.Minute, 1, "")
}
