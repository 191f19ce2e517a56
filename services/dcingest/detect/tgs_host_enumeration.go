package detect

import (
	"strconv"
	"time"

	"github.com/adjoin/adjoin/pkg/ingest/winevent"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TGSHostEnumeration raises an alert when one account, from one address, asks the KDC for
// service tickets to many distinct computers within a short window (Security 4769 whose
// ServiceName is a computer account, `HOST$`): the sweep BloodHound/SharpHound session and
// local-admin collection and other host-by-host scanners make, each SMB or RPC connection to a
// new host needing a ticket for it. A logon or an administrator's console touches a handful
// of hosts; a sweep touches dozens in a second.
//
// One alert per requesting account and address, per burst episode.
type TGSHostEnumeration struct {
	// Threshold is how many distinct computer services one requester must ask tickets for
	// within Window (default 10).
	Threshold int
	// Window is the sliding window of event time (default 10 s).
	Window time.Duration
	// MaxKeys bounds the requesters tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100).
	MaxEvidence int

	burst       *detection.Burst
	evidenceCap detection.EvidenceCap
}

// NewTGSHostEnumeration returns the detector with its defaults.
func NewTGSHostEnumeration() *TGSHostEnumeration {
	return &TGSHostEnumeration{Threshold: 10, Window: 10 * time.Second, MaxKeys: 10_000, MaxEvidence: 100}
}

// Name implements detection.Detector.
func (d *TGSHostEnumeration) Name() string { return "tgs-host-enumeration" }

// Detect implements detection.Detector.
func (d *TGSHostEnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4769 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	service := entity.Fold(f["ServiceName"])
	if !entity.IsMachineAccount(service) {
		return nil
	}
	requester := reconAccountOf(f["TargetUserName"], f["TargetDomainName"], "")
	src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
	if requester.empty() || requester.system() {
		return nil
	}
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: d.Threshold, MaxKeys: d.MaxKeys}
	}
	key := requester.key() + "|" + src.key()
	ep := d.burst.Add(key, service, ev.GetTime().AsTime())
	if !ep.Active {
		return nil
	}
	id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
	desc := requester.String() + " requested service tickets for " + strconv.Itoa(ep.Distinct) + " distinct computers from " +
		src.String() + " within " + d.Window.String() + " (4769 on " + ev.GetHost() + "), as a BloodHound/SharpHound host sweep does."
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, "4769 "+requester.String()+" -> "+f["ServiceName"],
			"TargetUserName", "TargetDomainName", "ServiceName", "ServiceSid", "Status", "TicketOptions", "TicketEncryptionType", "IpAddress", "IpPort")
	}
	a := reconAlert(id, d.Name(), "Host enumeration through Kerberos service tickets", desc, adjoinv1.Severity_SEVERITY_MEDIUM,
		[]string{"T1087.002", "T1018"}, ev, evidence)
	a.Entities = detection.Refs(
		requester.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}
