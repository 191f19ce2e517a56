package detect

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/adjoin/adjoin/pkg/ingest/winevent"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// PrivilegedGroupAddition raises an alert when a member is added to a privileged group:
// Security 4728 (global group), 4732 (domain-local or built-in group) and 4756 (universal
// group). A group is privileged by its SID's well-known RID or, when the SID is missing, by its
// name. Additions to Domain Admins, Enterprise Admins and Schema Admins give control of the
// forest (domain dominance); the others are privilege escalation.
type PrivilegedGroupAddition struct {
	// RIDs maps the last SID component of a privileged group to its usual name.
	RIDs map[string]string
	// Names are lower-case names of privileged groups, for events without a group SID.
	Names map[string]bool
	// ForestRIDs are the groups whose membership controls the whole forest.
	ForestRIDs map[string]bool

	sessions *Sessions
	accounts AccountsByDN
}

// AccountsByDN finds directory accounts by distinguished name.
type AccountsByDN interface {
	// AccountByDN returns the SID of the account whose DN is dn.
	AccountByDN(dn string) (sid string, ok bool)
}

// NewPrivilegedGroupAddition returns the detector with the built-in privileged groups: Domain
// Admins (512), Schema Admins (518), Enterprise Admins (519), Administrators (544), Account
// Operators (548) and Backup Operators (551). sessions (may be nil) supplies the source
// address of the session that made the change. accounts (may be nil) names by SID a member
// the event gives only by DN (a Samba DC's group change audit has no MemberSid).
func NewPrivilegedGroupAddition(sessions *Sessions, accounts AccountsByDN) *PrivilegedGroupAddition {
	return &PrivilegedGroupAddition{
		RIDs: map[string]string{
			"512": "Domain Admins", "518": "Schema Admins", "519": "Enterprise Admins",
			"544": "Administrators", "548": "Account Operators", "551": "Backup Operators",
		},
		Names: map[string]bool{
			"domain admins": true, "schema admins": true, "enterprise admins": true,
			"administrators": true, "account operators": true, "backup operators": true,
		},
		ForestRIDs: map[string]bool{"512": true, "518": true, "519": true},
		sessions:   sessions,
		accounts:   accounts,
	}
}

// Name implements detection.Detector.
func (d *PrivilegedGroupAddition) Name() string { return "privileged-group-addition" }

// Detect implements detection.Detector.
func (d *PrivilegedGroupAddition) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	switch ev.GetEventId() {
	case 4728, 4732, 4756:
	default:
		return nil
	}
	if !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	groupSID := entity.NormalizeSID(f["TargetSid"])
	group := strings.TrimSpace(f["TargetUserName"])
	rid := ""
	if i := strings.LastIndexByte(groupSID, '-'); i >= 0 {
		rid = groupSID[i+1:]
	}
	usual, byRID := d.RIDs[rid]
	switch {
	case byRID && (strings.HasPrefix(groupSID, "S-1-5-21-") || strings.HasPrefix(groupSID, "S-1-5-32-")):
		if group == "" || group == "-" {
			group = usual
		}
	case groupSID == "" && d.Names[entity.Fold(group)]:
	default:
		return nil
	}
	memberSID := entity.NormalizeSID(f["MemberSid"])
	member := strings.TrimSpace(f["MemberName"])
	if memberSID == "" && strings.Contains(member, "=") && d.accounts != nil {
		if s, ok := d.accounts.AccountByDN(member); ok {
			memberSID = entity.NormalizeSID(s)
		}
	}
	if member == "" || member == "-" {
		member = memberSID
	}
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	actor, by := domain+`\`+user, user
	if strings.Trim(user, " -") == "" {
		actor = cmp.Or(strings.TrimSpace(sid), "an unknown account")
		by = actor
	}
	t := ev.GetTime()
	phase := adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION
	if d.ForestRIDs[rid] {
		phase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE
	}
	a := identityAlert(&adjoinv1.Alert{
		Id: entity.HashID(d.Name(), rsvcHost(ev.GetHost()), groupSID, entity.Fold(group), memberSID, entity.Fold(member),
			detection.EpisodeID(t.AsTime())),
		Title:           "Member added to privileged group " + group,
		Description:     actor + " added " + member + " to " + group + " on " + ev.GetHost() + ".",
		Detector:        d.Name(),
		KillChainPhase:  phase,
		MitreTechniques: []string{"T1098"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET)},
	}, t.AsTime())
	if ref := adjUser(sid, user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	if memberSID != "" {
		// MemberName is a DN (CN=...,OU=...), not a sAMAccountName, so the member is named by SID.
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Sid: memberSID})
	}
	ip := ""
	if s, ok := d.sessions.Lookup(ev.GetHost(), normHex(f["SubjectLogonId"])); ok {
		ip = s.IP
	}
	if ip == "" {
		// A Samba DC writes the client address into the group change itself.
		ip = winevent.ClientAddress(f["IpAddress"])
	}
	if ip != "" {
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	a.Evidence = []*adjoinv1.Evidence{adjEvidence(ev, strconv.Itoa(int(ev.GetEventId()))+" "+member+" added to "+group+" by "+by,
		"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "MemberName", "MemberSid", "TargetUserName", "TargetDomainName", "TargetSid", "IpAddress")}
	return []*adjoinv1.Alert{a}
}
