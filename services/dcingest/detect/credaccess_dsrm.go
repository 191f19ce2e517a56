package detect

import (
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// DSRMPasswordChange raises an alert on Security 4794, an attempt to set the Directory
// Services Restore Mode administrator password of a domain controller (ntdsutil "set dsrm
// password", or its "sync from domain account" form). The DSRM account is a local
// administrator of the DC that survives every domain password reset; with
// DsrmAdminLogonBehavior set to 2 it logs on over the network, a persistence attackers set
// up after taking the domain. It is rare administration, so every attempt is an alert: high
// when it succeeded (Status 0), medium otherwise. One alert per DC, caller and logon session.
type DSRMPasswordChange struct{}

// NewDSRMPasswordChange returns the detector; it keeps no state and has nothing to configure.
func NewDSRMPasswordChange() *DSRMPasswordChange { return &DSRMPasswordChange{} }

// Name implements detection.Detector.
func (d *DSRMPasswordChange) Name() string { return "dsrm-password-change" }

// Detect implements detection.Detector.
func (d *DSRMPasswordChange) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4794 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	user, domain := f["SubjectUserName"], f["SubjectDomainName"]
	severity, outcome := adjoinv1.Severity_SEVERITY_HIGH, "set"
	if status, err := winevent.ParseHex(f["Status"]); err == nil && status != 0 {
		severity, outcome = adjoinv1.Severity_SEVERITY_MEDIUM, "tried to set (status "+f["Status"]+")"
	}
	caller := domain + `\` + user
	if user == "" || user == "-" {
		caller = "an unknown account"
	}
	a := credAccessAlert(entity.HashID(d.Name(), rsvcHost(ev.GetHost()), normHex(f["SubjectLogonId"]), entity.DomainSAM(domain, user)), d.Name(),
		"Directory Services Restore Mode password changed on a domain controller",
		caller+" "+outcome+" the DSRM administrator password of "+ev.GetHost()+
			": a local administrator of the DC that domain password resets do not touch.",
		severity, "T1098", ev, ev.GetTime().AsTime(),
		[]*adjoinv1.Evidence{adjEvidence(ev, "4794 DSRM password "+outcome+" by "+caller,
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "Workstation", "Status")})
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE
	a.Entities = credAccessEntities(adjUser(f["SubjectUserSid"], user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET))
	return []*adjoinv1.Alert{a}
}
