package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// DCPasswordReset raises an alert when someone resets the password of a domain controller's
// computer account (Security 4724 whose target is a DC account): whoever knows a DC
// account's password can replicate every secret of the domain (DCSync as the DC) or forge
// silver tickets to it. A DC changes its own password with 4742, never with a reset; an
// account is a DC's when it is the account of the DC that logged the event or the directory
// (may be nil) says so. A reset by the DC account itself or by SYSTEM is the DC rotating its
// own password, and is skipped. The anonymous reset of Zerologon is the zerologon detector's.
//
// One alert per DC account and episode (resets less than Window apart).
type DCPasswordReset struct {
	// Episodes group repeated resets of one account (default Window 10 min).
	Episodes

	dir      DomainControllers
	sessions *Sessions
}

// NewDCPasswordReset returns the detector with its defaults. sessions (may be nil) gives the
// source address of the session that made the reset.
func NewDCPasswordReset(dir DomainControllers, sessions *Sessions) *DCPasswordReset {
	return &DCPasswordReset{Episodes: episodesOf(10 * time.Minute), dir: dir, sessions: sessions}
}

// Name implements detection.Detector.
func (d *DCPasswordReset) Name() string { return "dc-password-reset" }

// Detect implements detection.Detector.
func (d *DCPasswordReset) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4724 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	target := domTarget(f)
	if target.empty() || !domIsDCAccount(d.dir, ev.GetHost(), target.Domain, target.Sam) {
		return nil
	}
	actor := reconSubject(f)
	switch {
	case actor.SID == "S-1-5-7":
		return nil // Zerologon's anonymous reset: the zerologon detector
	case actor.system(), actor.Sam == target.Sam:
		return nil // the DC rotating its own password (as itself or as SYSTEM)
	}
	key := target.key()
	id := entity.HashID(d.Name(), key, d.episode(key, ev.GetTime().AsTime()))
	logonID := normHex(f["SubjectLogonId"])
	src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
	what := "4724 " + actor.String() + " reset the password of domain controller account " + target.String()
	desc := what + " on " + ev.GetHost() + " (from " + src.String() + ", logon session " + logonID +
		"): with that password the DC's identity can be used to replicate every secret of the domain."
	a := domAlert(id, d.Name(), "Password reset of a domain controller account", desc, adjoinv1.Severity_SEVERITY_HIGH,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE, []string{"T1098"}, ev,
		adjEvidence(ev, what, "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "TargetUserName", "TargetDomainName", "TargetSid"),
		domActor(actor),
		domRef(target, adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}
