package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// AttributeWrite raises an alert when a value is added to one directory attribute that
// grants a persistent hold on an account (Security 5136, OperationType value added
// %%14674, AttributeLDAPDisplayName compared without case). It backs three detectors:
//
//   - rbcd-configured: msDS-AllowedToActOnBehalfOfOtherIdentity on any object — resource-based
//     constrained delegation, letting the accounts in the value impersonate anyone to it;
//   - spn-added-to-user: servicePrincipalName on a user object (not a computer) — targeted
//     Kerberoasting, or a backdoor SPN;
//   - sid-history-added: sIDHistory on any object (the detector also reads 4765/4766/4738).
//
// Computer accounts writing their own attributes and the local system are skipped. One alert
// per object and episode (writes less than Window apart): several values written in one
// operation or a retry make one alert.
type AttributeWrite struct {
	// Episodes group the writes of one change, per object (default Window 10 min).
	Episodes

	name, attribute, class, title, why string
	technique                          string
	phase                              adjoinv1.KillChainPhase
	accounts                           AccountsByDN
	sessions                           *Sessions
}

// NewRBCDConfigured returns rbcd-configured. accounts (may be nil) names the changed object
// by SID; sessions (may be nil) gives the source address of the change.
func NewRBCDConfigured(accounts AccountsByDN, sessions *Sessions) *AttributeWrite {
	return newAttributeWrite("rbcd-configured", "msDS-AllowedToActOnBehalfOfOtherIdentity", "",
		"Resource-based constrained delegation configured",
		"the accounts it lists can now obtain service tickets to it as any user (RBCD)", "T1098",
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION, accounts, sessions)
}

// NewSPNAddedToUser returns spn-added-to-user.
func NewSPNAddedToUser(accounts AccountsByDN, sessions *Sessions) *AttributeWrite {
	return newAttributeWrite("spn-added-to-user", "servicePrincipalName", "user",
		"Service principal name added to a user account",
		"anyone can now request a service ticket encrypted with the user's password and crack it offline (targeted Kerberoasting)", "T1558.003",
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, accounts, sessions)
}

func newAttributeWrite(name, attribute, class, title, why, technique string, phase adjoinv1.KillChainPhase, accounts AccountsByDN, sessions *Sessions) *AttributeWrite {
	return &AttributeWrite{Episodes: episodesOf(10 * time.Minute), name: name, attribute: attribute, class: class,
		title: title, why: why, technique: technique, phase: phase, accounts: accounts, sessions: sessions}
}

// Name implements detection.Detector.
func (d *AttributeWrite) Name() string { return d.name }

// Detect implements detection.Detector.
func (d *AttributeWrite) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 5136 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if dcsrOperation(f["OperationType"]) != dcsrValueAdded || !strings.EqualFold(strings.TrimSpace(f["AttributeLDAPDisplayName"]), d.attribute) {
		return nil
	}
	class := strings.TrimSpace(f["ObjectClass"])
	if d.class != "" && !strings.EqualFold(class, d.class) {
		return nil
	}
	actor := reconSubject(f)
	if actor.empty() || actor.system() {
		return nil
	}
	dn := strings.TrimSpace(f["ObjectDN"])
	target := d.objectRef(dn, class, f["ObjectGUID"])
	if actor.machine() && target.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER &&
		strings.EqualFold(strings.TrimSuffix(actor.Sam, "$"), target.GetNetbiosName()) {
		return nil // a computer maintaining its own attributes
	}
	what := "5136 " + actor.String() + " added " + d.attribute + " to " + dn
	if v := strings.TrimSpace(f["AttributeValue"]); v != "" && d.attribute != "msDS-AllowedToActOnBehalfOfOtherIdentity" {
		what += " (" + v + ")"
	}
	return d.alert(ev, dn, what, actor, target,
		"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectDN", "ObjectGUID", "ObjectClass",
		"AttributeLDAPDisplayName", "AttributeValue", "OperationType", "OpCorrelationID")
}

// alert raises the detector's alert for object key (a DN or an account) at ev.
func (d *AttributeWrite) alert(ev *adjoinv1.Event, key, what string, actor reconAccount, target *adjoinv1.EntityRef, keys ...string) []*adjoinv1.Alert {
	key = entity.Fold(key)
	id := entity.HashID(d.name, key, d.episode(key, ev.GetTime().AsTime()))
	logonID := normHex(ev.GetFields()["SubjectLogonId"])
	src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
	desc := what + " on " + ev.GetHost() + " (from " + src.String() + ", logon session " + logonID + "): " + d.why + "."
	actorRef := domActor(actor)
	a := domAlert(id, d.name, d.title, desc, adjoinv1.Severity_SEVERITY_HIGH, d.phase, []string{d.technique}, ev,
		adjEvidence(ev, what, keys...), actorRef, target, src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// objectRef references the changed object: a computer (by the CN of its DN) or a user, with
// its objectGUID, and its SID when the directory knows the DN.
func (d *AttributeWrite) objectRef(dn, class, guid string) *adjoinv1.EntityRef {
	ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET,
		ObjectGuid: entity.NormalizeGUID(guid)}
	if strings.EqualFold(class, "computer") {
		ref.Kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
		if cn, _, ok := strings.Cut(dn, ","); ok && len(cn) > 3 && strings.EqualFold(cn[:3], "CN=") {
			ref.NetbiosName = strings.ToLower(strings.TrimSpace(cn[3:]))
		}
	}
	if d.accounts != nil {
		if sid, ok := d.accounts.AccountByDN(dn); ok {
			ref.Sid = sid
		}
	}
	return ref
}
