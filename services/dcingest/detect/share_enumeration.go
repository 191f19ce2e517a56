package detect

import (
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// ShareEnumeration raises an alert when a user account opens the `srvsvc` pipe on a host's
// IPC$ (Security 5145): the Server service RPC interface behind NetShareEnum and
// NetSessionEnum, which `net view`, PowerView's Find-DomainShare / Get-NetSession and
// BloodHound's session collection call on every host they sweep. Computer accounts are skipped.
//
// The rule is deliberately simple and low severity: browsing a server's shares in Explorer
// opens srvsvc too. Its value is in correlation (the same account sweeping many hosts, or an
// endpoint alert for the same account). One alert per account, logon session and host.
type ShareEnumeration struct{}

// NewShareEnumeration returns the detector; it has no settings.
func NewShareEnumeration() *ShareEnumeration { return &ShareEnumeration{} }

// Name implements detection.Detector.
func (d *ShareEnumeration) Name() string { return "share-enumeration" }

// Detect implements detection.Detector.
func (d *ShareEnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if reconPipe(ev) != "srvsvc" {
		return nil
	}
	f := ev.GetFields()
	actor := reconSubject(f)
	if actor.empty() || actor.system() || actor.machine() {
		return nil
	}
	src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
	logonID := normHex(f["SubjectLogonId"])
	nb, _ := entity.HostNames(ev.GetHost())
	id := entity.HashID(d.Name(), nb, actor.key(), logonID)
	desc := actor.String() + " opened the Server service pipe (srvsvc: NetShareEnum/NetSessionEnum) on " + ev.GetHost() +
		" from " + src.String() + " (logon session " + logonID + "), as share and session enumeration does."
	a := reconAlert(id, d.Name(), "Share or session enumeration over SMB (srvsvc)", desc, adjoinv1.Severity_SEVERITY_LOW,
		[]string{"T1135", "T1049"}, ev, reconEvidence(ev, "5145 "+actor.String()+` opened \PIPE\srvsvc on IPC$`,
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "IpPort", "ShareName", "RelativeTargetName", "AccessMask"))
	a.Entities = reconEntities(
		actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}
