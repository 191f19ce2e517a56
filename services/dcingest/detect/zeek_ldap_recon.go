package detect

import (
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// zeekLDAPPrivilegedGroups are filter fragments (lower case, spaces kept) that look up the
// built-in privileged groups by name, as PowerView's Get-DomainGroup and BloodHound do.
var zeekLDAPPrivilegedGroups = []string{
	"=domain admins)", "=enterprise admins)", "=schema admins)", "=administrators)", "=account operators)",
	"=backup operators)", "=dnsadmins)",
}

// ZeekLDAPRecon raises an alert when an LDAP search (Zeek's ldap_search.log, or the DC
// traffic sensor's) asks the directory for attack targets: the filters of ldap-recon
// (accounts with SPNs or without pre-authentication, delegation, adminCount=1, LAPS, trusts,
// GPOs) and searches for the privileged groups by name (T1087.002, T1069.002). It is
// ldap-recon for DCs that do not log event 1644, which is most of them.
//
// One alert per client, target and episode (searches less than Window apart).
type ZeekLDAPRecon struct {
	// ZeekEpisodes key alerts by client (defaults: Window 10 min, 50 searches as evidence).
	ZeekEpisodes
}

// NewZeekLDAPRecon returns the detector with its defaults.
func NewZeekLDAPRecon() *ZeekLDAPRecon {
	return &ZeekLDAPRecon{ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *ZeekLDAPRecon) Name() string { return "zeek-ldap-recon" }

// Detect implements detection.Detector.
func (d *ZeekLDAPRecon) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "ldap_search")
	if !ok {
		return nil
	}
	filter := r.f["filter"]
	target := zeekLDAPTarget(filter)
	if target == "" {
		return nil
	}
	return d.raise(d.Name(), r, zeekFinding{
		subject: filter + "|" + r.f["message_id"],
		title:   "LDAP search for attack targets (network)",
		desc: r.origH + zeekWho(r) + " searched the directory of " + r.respH + " for " + target + " with " + filter +
			" (" + zeekSource(r) + " on " + r.conn() + ").",
		severity: adjoinv1.Severity_SEVERITY_MEDIUM,
		phase:    adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE,
		mitre:    []string{"T1087.002", "T1069.002"},
		user:     zeekClientRef(r, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		summary:  "ldap_search " + filter + " " + r.conn(),
		keys:     []string{"base_object", "scope", "filter", "client"},
	}, 10*time.Minute, 1, "")
}

// zeekLDAPTarget names what a filter hunts for, or "".
func zeekLDAPTarget(filter string) string {
	lower := strings.ToLower(filter)
	compact := strings.ReplaceAll(lower, " ", "")
	for _, f := range ldapReconFilters {
		if strings.Contains(compact, f.fragment) {
			return f.target
		}
	}
	for _, g := range zeekLDAPPrivilegedGroups {
		if strings.Contains(lower, g) {
			return "the privileged group " + strings.Trim(g, "=)")
		}
	}
	return ""
}
