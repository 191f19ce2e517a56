package detect

import (
	"strconv"
	"time"

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
// One alert per account, source address and episode (opens less than Window apart), whatever
// the hosts: a session-enumeration sweep over many hosts is one attack. Browsing one server's
// shares in Explorer opens srvsvc too, so an alert on one host is low severity; reaching
// SweepHosts hosts raises it to medium.
type ShareEnumeration struct {
	// Window groups the opens of one sweep (default 10 min).
	Window time.Duration
	// SweepHosts is how many distinct hosts make a sweep (default 3).
	SweepHosts int
	// MaxKeys bounds the account/source pairs tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 50).
	MaxEvidence int

	hosts       *detection.Burst
	evidenceCap detection.EvidenceCap
}

// NewShareEnumeration returns the detector with its defaults.
func NewShareEnumeration() *ShareEnumeration {
	return &ShareEnumeration{Window: 10 * time.Minute, SweepHosts: 3, MaxKeys: 10_000, MaxEvidence: 50}
}

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
	if d.hosts == nil {
		d.hosts = &detection.Burst{Window: d.Window, Threshold: 1, MaxKeys: d.MaxKeys}
	}
	key := actor.key() + "|" + src.key()
	ep := d.hosts.Add(key, nb, ev.GetTime().AsTime())
	id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
	severity := adjoinv1.Severity_SEVERITY_LOW
	if ep.Distinct >= d.SweepHosts {
		severity = adjoinv1.Severity_SEVERITY_MEDIUM
	}
	desc := actor.String() + " opened the Server service pipe (srvsvc: NetShareEnum/NetSessionEnum) from " + src.String() +
		" on " + strconv.Itoa(ep.Distinct) + " host(s) within " + d.Window.String() + ", last " + ev.GetHost() +
		" (logon session " + logonID + "), as share and session enumeration does."
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, "5145 "+actor.String()+` opened \PIPE\srvsvc on IPC$ of `+ev.GetHost(),
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "IpPort", "ShareName", "RelativeTargetName", "AccessMask")
	}
	a := reconAlert(id, d.Name(), "Share or session enumeration over SMB (srvsvc)", desc, severity,
		[]string{"T1135", "T1049"}, ev, evidence)
	a.Entities = detection.Refs(
		actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}
