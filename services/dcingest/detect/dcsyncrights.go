package detect

import (
	"regexp"
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Directory-service change operation types in 5136 OperationType.
const (
	dcsrValueAdded   = "%%14674"
	dcsrValueDeleted = "%%14675"
)

// dcsrOperation reads a 5136 OperationType as dcsrValueAdded or dcsrValueDeleted, whether the
// export kept the message id (%%14674) or rendered it ("Value Added"); "" for anything else.
func dcsrOperation(v string) string {
	switch v = strings.TrimSpace(v); {
	case v == dcsrValueAdded || strings.EqualFold(v, "Value Added"):
		return dcsrValueAdded
	case v == dcsrValueDeleted || strings.EqualFold(v, "Value Deleted"):
		return dcsrValueDeleted
	}
	return ""
}

// dcsrDomainRoot matches the DN of a domain's root object (DC=offsec,DC=lan), and nothing
// below it.
var dcsrDomainRoot = regexp.MustCompile(`(?i)^\s*dc=[^,=]+(\s*,\s*dc=[^,=]+)*\s*$`)

// dcsrACE matches one ACE of an SDDL DACL: (type;flags;rights;object;inherited object;trustee).
var dcsrACE = regexp.MustCompile(`\(([A-Z]+);([A-Z]*);([A-Z0-9x]*);([0-9a-fA-F-]*);([0-9a-fA-F-]*);([^)]*)\)`)

// dcsrDomainDNSClass is the schemaIDGUID of domainDNS, the class of a domain's root object.
const dcsrDomainDNSClass = "19195a5b-6da0-11d0-afd3-00c04fd930c9"

// dcsrDefaultTrustees hold replication rights on a domain root by default (or already hold
// every right), as SDDL aliases or RIDs; granting to them raises no privilege.
var dcsrDefaultTrustees = map[string]bool{
	"BA": true, "SY": true, "DA": true, "EA": true, "ED": true, "DD": true, "RO": true, "S-1-5-32-544": true,
	"S-1-5-18": true, "S-1-5-9": true, "-512": true, "-516": true, "-519": true, "-498": true, "-521": true,
}

// DCSyncRightsGranted raises an alert when the DACL of a domain's root object is changed to
// give an account the directory replication rights (DS-Replication-Get-Changes, -All,
// -In-Filtered-Set) — the persistence step before a DCSync (ntlmrelayx --escalate-user,
// PowerView Add-DomainObjectAcl -Rights DCSync). Source: 5136 on the domain root with
// AttributeLDAPDisplayName nTSecurityDescriptor.
//
// The root's DACL always holds replication ACEs for the domain controllers and
// Administrators, so the value-added event (%%14674) is compared with the value-deleted event
// (%%14675) of the same LDAP operation (OpCorrelationID): only replication ACEs that are new
// count. When the old value was not seen, new means held by someone other than the default
// holders. The value-deleted event never alerts by itself; both events of one change are one
// alert, and so are the changes one logon session makes to one domain root.
type DCSyncRightsGranted struct {
	// MaxPending bounds the value-deleted events kept to pair with their value-added event
	// (default 256).
	MaxPending int

	sessions *Sessions
	pending  *bounded.Map[string, dcsrOld]
}

type dcsrOld struct {
	aces     map[string]bool
	evidence *adjoinv1.Evidence
}

// NewDCSyncRightsGranted returns the detector. sessions (may be nil) supplies the source
// address of the logon session that made the change.
func NewDCSyncRightsGranted(sessions *Sessions) *DCSyncRightsGranted {
	return &DCSyncRightsGranted{MaxPending: 256, sessions: sessions}
}

// Name implements detection.Detector.
func (d *DCSyncRightsGranted) Name() string { return "dcsync-rights-granted" }

// Detect implements detection.Detector.
func (d *DCSyncRightsGranted) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 5136 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if !strings.EqualFold(strings.TrimSpace(f["AttributeLDAPDisplayName"]), "nTSecurityDescriptor") || !dcsrDomainRoot.MatchString(f["ObjectDN"]) {
		return nil
	}
	aces := dcsrReplicationACEs(f["AttributeValue"])
	op := dcsrOperation(f["OperationType"])
	corr := entity.Fold(f["OpCorrelationID"])
	evidenceFields := []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectDN",
		"ObjectGUID", "AttributeLDAPDisplayName", "OperationType", "OpCorrelationID", "AttributeValue"}
	switch op {
	case dcsrValueDeleted:
		if corr != "" && corr != "-" {
			d.remember(rsvcHost(ev.GetHost())+"|"+corr, dcsrOld{aces: aces, evidence: adjEvidence(ev, "5136 old nTSecurityDescriptor of "+f["ObjectDN"], evidenceFields...)})
		}
		return nil
	case dcsrValueAdded:
	default:
		return nil
	}
	old, paired := d.old(rsvcHost(ev.GetHost()) + "|" + corr)
	var granted []string // trustees that gained a replication right
	added := map[string]bool{}
	for ace := range aces {
		if paired && old.aces[ace] {
			continue
		}
		trustee := ace[strings.LastIndexByte(ace, ';')+1:]
		if !paired && dcsrIsDefaultTrustee(trustee) {
			continue
		}
		added[ace] = true
		if !slices.Contains(granted, trustee) {
			granted = append(granted, trustee)
		}
	}
	if len(granted) == 0 {
		return nil
	}
	slices.Sort(granted)
	rights := dcsrRightNames(added)
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	t := ev.GetTime()
	// One alert per logon session: PowerView writes each right in its own LDAP operation
	// (three 5136 pairs, three OpCorrelationIDs), which is still one grant.
	idPart := normHex(f["SubjectLogonId"])
	if idPart == "" || idPart == "-" || idPart == "0x0" {
		idPart = corr + "|" + detection.EpisodeID(t.AsTime())
	}
	a := identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), rsvcHost(ev.GetHost()), entity.Fold(f["ObjectDN"]), idPart),
		Title:           "Replication (DCSync) rights granted on the domain root",
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		MitreTechniques: []string{"T1098"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET)},
	}, t.AsTime())
	if ref := adjUser(sid, user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	for _, g := range granted {
		if entity.IsSID(g) {
			a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Sid: entity.NormalizeSID(g)})
		}
	}
	if s, ok := d.sessions.Lookup(ev.GetHost(), normHex(f["SubjectLogonId"])); ok && s.IP != "" {
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: s.IP})
	}
	how := "compared with the previous value"
	if !paired {
		how = "the previous value was not seen; default holders left out"
	}
	a.Description = domain + `\` + user + " changed the permissions of " + f["ObjectDN"] + " on " + ev.GetHost() + " to grant " +
		strings.Join(rights, ", ") + " to " + strings.Join(granted, ", ") + " (" + how + "): the grantee can now DCSync every password hash."
	if paired {
		a.Evidence = append(a.Evidence, old.evidence)
	}
	a.Evidence = append(a.Evidence, adjEvidence(ev, "5136 new nTSecurityDescriptor of "+f["ObjectDN"]+" grants "+strings.Join(rights, ", ")+" to "+strings.Join(granted, ", "), evidenceFields...))
	return []*adjoinv1.Alert{a}
}

func (d *DCSyncRightsGranted) remember(key string, old dcsrOld) {
	if d.pending == nil {
		d.pending = bounded.NewMap[string, dcsrOld](d.MaxPending)
	}
	d.pending.Put(key, old)
}

func (d *DCSyncRightsGranted) old(key string) (dcsrOld, bool) {
	if d.pending == nil {
		return dcsrOld{}, false
	}
	return d.pending.Get(key)
}

// dcsrReplicationACEs returns the allow ACEs of an SDDL value that give replication rights:
// the control-access right on one of the replication GUIDs, all control-access rights, or
// generic all. Each is normalised to "guid-or-right;trustee" so the old and new values compare.
func dcsrReplicationACEs(sddl string) map[string]bool {
	out := map[string]bool{}
	for _, m := range dcsrACE.FindAllStringSubmatch(sddlDACL(sddl), -1) {
		typ, flags, rights, object, inherited, trustee := m[1], m[2], m[3], strings.ToLower(m[4]), strings.ToLower(m[5]), strings.ToUpper(strings.TrimSpace(m[6]))
		if typ != "A" && typ != "OA" {
			continue
		}
		// Inherit-only ACEs, and ACEs for another class of object, do not apply to the root.
		if dcsrHasRight(flags, "IO") || (inherited != "" && inherited != dcsrDomainDNSClass) {
			continue
		}
		switch {
		case replicationRights[object] != "" && dcsrHasRight(rights, "CR"):
			out[object+";"+trustee] = true
		case object == "" && dcsrHasRight(rights, "GA"):
			out["GA;"+trustee] = true
		case object == "" && dcsrHasRight(rights, "CR"):
			out["CR;"+trustee] = true
		}
	}
	return out
}

// sddlDACL is the DACL part of an SDDL security descriptor (from "D:" up to "S:"), or the
// whole text when it has no "D:".
func sddlDACL(sddl string) string {
	dacl := sddl
	if i := strings.Index(dacl, "D:"); i >= 0 {
		dacl = dacl[i:]
		if j := strings.Index(dacl, "S:"); j >= 0 {
			dacl = dacl[:j]
		}
	}
	return dacl
}

// dcsrHasRight reports whether an SDDL rights or flags string (two-letter codes; a hex mask
// is not decoded) holds right.
func dcsrHasRight(rights, right string) bool {
	if strings.HasPrefix(rights, "0x") {
		return false
	}
	for i := 0; i+2 <= len(rights); i += 2 {
		if rights[i:i+2] == right {
			return true
		}
	}
	return false
}

func dcsrIsDefaultTrustee(trustee string) bool {
	if dcsrDefaultTrustees[trustee] {
		return true
	}
	if i := strings.LastIndexByte(trustee, '-'); i > 0 && strings.HasPrefix(trustee, "S-1-5-21-") {
		return dcsrDefaultTrustees[trustee[i:]]
	}
	return false
}

// dcsrRightNames names the rights a set of normalised ACEs grant.
func dcsrRightNames(aces map[string]bool) []string {
	names := map[string]bool{}
	for ace := range aces {
		i := strings.LastIndexByte(ace, ';')
		switch right := ace[:i]; right {
		case "GA":
			names["GenericAll"] = true
		case "CR":
			names["All-Extended-Rights"] = true
		default:
			names[replicationRights[right]] = true
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
