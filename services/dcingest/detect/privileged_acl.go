package detect

import (
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Object GUIDs of the rights paclControlACEs names: the member attribute (adding members to
// a group) and the User-Force-Change-Password extended right.
const (
	paclMemberAttr    = "bf9679c0-0de6-11d0-a285-00aa003049e2"
	paclForcePassword = "00299570-246d-11d0-a768-00aa006e0529"
)

// paclMaskRights are the access-mask bits of a hex rights field, by SDDL name.
var paclMaskRights = []struct {
	bit  uint64
	name string
}{{0x10000000, "GA"}, {0x40000000, "GW"}, {0x40000, "WD"}, {0x80000, "WO"}, {0x20, "WP"}, {0x100, "CR"}}

// PrivilegedACLChange raises an alert when the DACL of AdminSDHolder (CN=AdminSDHolder,
// CN=System,<domain>) or of the domain root gains an ACE that gives control to someone new:
// GenericAll, GenericWrite, WriteDacl, WriteOwner, WriteProperty on every attribute or on
// member, all extended rights or User-Force-Change-Password. SDProp copies AdminSDHolder's
// DACL onto every protected account and group within the hour, so an ACE there is a
// persistent hold on Domain Admins; on the domain root it lets the grantee rewrite the
// domain's permissions. Source: 5136 nTSecurityDescriptor.
//
// As in dcsync-rights-granted, the new value is compared with the old one of the same LDAP
// operation; without it, the default holders are left out. Replication rights on the root are
// dcsync-rights-granted's, so they are not counted here. One alert per DC, object and logon
// session.
type PrivilegedACLChange struct {
	// MaxPending bounds the value-deleted events kept to pair with their value-added event
	// (default 256).
	MaxPending int

	sessions *Sessions
	pending  *bounded.Map[string, map[string]string]
}

// NewPrivilegedACLChange returns the detector. sessions (may be nil) gives the source address
// of the logon session that made the change.
func NewPrivilegedACLChange(sessions *Sessions) *PrivilegedACLChange {
	return &PrivilegedACLChange{MaxPending: 256, sessions: sessions}
}

// Name implements detection.Detector.
func (d *PrivilegedACLChange) Name() string { return "privileged-acl-change" }

// Detect implements detection.Detector.
func (d *PrivilegedACLChange) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 5136 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if !strings.EqualFold(strings.TrimSpace(f["AttributeLDAPDisplayName"]), "nTSecurityDescriptor") {
		return nil
	}
	dn := strings.TrimSpace(f["ObjectDN"])
	adminSDHolder := len(dn) > 30 && strings.EqualFold(dn[:30], "CN=AdminSDHolder,CN=System,DC=")
	if !adminSDHolder && !dcsrDomainRoot.MatchString(dn) {
		return nil
	}
	if d.pending == nil {
		d.pending = bounded.NewMap[string, map[string]string](d.MaxPending)
	}
	aces := paclControlACEs(f["AttributeValue"], !adminSDHolder)
	corrKey := rsvcHost(ev.GetHost()) + "|" + entity.Fold(f["OpCorrelationID"])
	switch dcsrOperation(f["OperationType"]) {
	case dcsrValueDeleted:
		d.pending.Put(corrKey, aces)
		return nil
	case dcsrValueAdded:
	default:
		return nil
	}
	old, paired := d.pending.Get(corrKey)
	var granted, rights []string
	for ace, right := range aces {
		trustee := ace[strings.LastIndexByte(ace, ';')+1:]
		if _, had := old[ace]; paired && had || !paired && (dcsrIsDefaultTrustee(trustee) || trustee == "PS" || trustee == "CA" || strings.HasSuffix(trustee, "-517")) {
			continue
		}
		if !slices.Contains(granted, trustee) {
			granted = append(granted, trustee)
		}
		if !slices.Contains(rights, right) {
			rights = append(rights, right)
		}
	}
	if len(granted) == 0 {
		return nil
	}
	slices.Sort(granted)
	slices.Sort(rights)
	actor := reconSubject(f)
	logonID := normHex(f["SubjectLogonId"])
	src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
	id := entity.HashID(d.Name(), rsvcHost(ev.GetHost()), entity.Fold(dn), logonID)
	what := "5136 nTSecurityDescriptor of " + dn + " grants " + strings.Join(rights, ", ") + " to " + strings.Join(granted, ", ")
	phase, title, why := adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE, "Control granted on the domain root",
		"the grantee can rewrite the domain's permissions"
	if adminSDHolder {
		phase, title, why = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE, "AdminSDHolder permissions changed",
			"SDProp copies them onto every protected account and group (Domain Admins among them) within the hour"
	}
	desc := actor.String() + " changed the permissions of " + dn + " on " + ev.GetHost() + " (from " + src.String() + ", logon session " +
		logonID + ") to grant " + strings.Join(rights, ", ") + " to " + strings.Join(granted, ", ") + ": " + why + "."
	actorRef := domActor(actor)
	refs := []*adjoinv1.EntityRef{actorRef, src.ref(), detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)}
	for _, g := range granted {
		if entity.IsSID(g) {
			refs = append(refs, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Sid: entity.NormalizeSID(g)})
		}
	}
	a := domAlert(id, d.Name(), title, desc, adjoinv1.Severity_SEVERITY_HIGH, phase, []string{"T1098", "T1222.001"}, ev,
		adjEvidence(ev, what, "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectDN", "ObjectGUID",
			"AttributeLDAPDisplayName", "OperationType", "OpCorrelationID", "AttributeValue"), refs...)
	return []*adjoinv1.Alert{a}
}

// paclControlACEs returns the allow ACEs of an SDDL value's DACL that give control, each as
// "right;trustee" mapped to the right's name. root leaves out what dcsrReplicationACEs counts
// (GenericAll, all extended rights, the replication rights).
func paclControlACEs(sddl string, root bool) map[string]string {
	out := map[string]string{}
	for _, m := range dcsrACE.FindAllStringSubmatch(sddlDACL(sddl), -1) {
		typ, rights, object, trustee := m[1], paclRights(m[3]), strings.ToLower(m[4]), strings.ToUpper(strings.TrimSpace(m[6]))
		if typ != "A" && typ != "OA" {
			continue
		}
		if root && object == "" && (dcsrHasRight(m[3], "GA") || dcsrHasRight(m[3], "CR")) {
			continue // a DCSync grant as well: dcsync-rights-granted raises it
		}
		add := func(right, name string) { out[right+";"+trustee] = name }
		switch {
		case object == "" && dcsrHasRight(rights, "GA"):
			add("GA", "GenericAll")
		case object == "" && dcsrHasRight(rights, "CR"):
			add("CR", "All-Extended-Rights")
		case object == paclForcePassword && dcsrHasRight(rights, "CR"):
			add("CR:"+object, "User-Force-Change-Password")
		case object == paclMemberAttr && dcsrHasRight(rights, "WP"):
			add("WP:"+object, "WriteProperty(member)")
		}
		if object != "" {
			continue
		}
		for _, r := range []struct{ code, name string }{{"GW", "GenericWrite"}, {"WD", "WriteDacl"}, {"WO", "WriteOwner"}, {"WP", "WriteProperty"}} {
			if dcsrHasRight(rights, r.code) {
				add(r.code, r.name)
			}
		}
	}
	return out
}

// paclRights turns a hex access mask (0xf01ff) into SDDL right codes; codes pass unchanged.
func paclRights(rights string) string {
	mask, err := winevent.ParseHex(rights)
	if !strings.HasPrefix(rights, "0x") || err != nil {
		return rights
	}
	var codes string
	for _, r := range paclMaskRights {
		if mask&r.bit != 0 {
			codes += r.name
		}
	}
	return codes
}
