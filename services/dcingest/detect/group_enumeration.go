package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// groupEnumGroupClass is the schemaIDGUID of the group class, which 4662 writes as the
// ObjectType of a group object ("%{bf967a9c-…}").
const groupEnumGroupClass = "bf967a9c-0de6-11d0-a285-00aa003049e2"

// GroupEnumeration raises an alert when one account reads many distinct group objects in the
// directory within a short window (Security 4662 on objects of the group class): the burst an
// LDAP sweep of groups and their members leaves (CrackMapExec --groups, PowerView
// Get-DomainGroup, BloodHound). It needs DS-access auditing with a SACL on the groups, as in
// the EVTX-to-MITRE-Attack lab. Computer accounts and local system identities are skipped.
//
// One alert per account and burst episode; every event of the episode maps to it.
type GroupEnumeration struct {
	// Threshold is how many distinct group objects one account must read within Window
	// (default 20).
	Threshold int
	// Window is the sliding window of event time (default 10 s).
	Window time.Duration
	// MaxKeys bounds the accounts tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100); later events
	// still widen the alert's activity window.
	MaxEvidence int
	// ObjectClass is the schemaIDGUID of the class counted (default the group class).
	ObjectClass string

	sessions    *Sessions
	burst       *detection.Burst
	evidenceCap detection.EvidenceCap
}

// NewGroupEnumeration returns the detector with its defaults. sessions (may be nil) gives the
// source address of the reading logon session.
func NewGroupEnumeration(sessions *Sessions) *GroupEnumeration {
	return &GroupEnumeration{
		Threshold:   20,
		Window:      10 * time.Second,
		MaxKeys:     10_000,
		MaxEvidence: 100,
		ObjectClass: groupEnumGroupClass,
		sessions:    sessions,
	}
}

// Name implements detection.Detector.
func (d *GroupEnumeration) Name() string { return "group-enumeration" }

// Detect implements detection.Detector.
func (d *GroupEnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4662 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if groupEnumGUID(f["ObjectType"]) != entity.NormalizeGUID(d.ObjectClass) {
		return nil
	}
	object := groupEnumGUID(f["ObjectName"])
	if object == "" {
		object = entity.Fold(f["ObjectName"]) // a DN where the pipeline resolved it
	}
	actor := reconSubject(f)
	if object == "" || actor.empty() || actor.system() || actor.machine() {
		return nil
	}
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: d.Threshold, MaxKeys: d.MaxKeys}
	}
	ep := d.burst.Add(actor.key(), object, ev.GetTime().AsTime())
	if !ep.Active {
		return nil
	}
	logonID := normHex(f["SubjectLogonId"])
	src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
	id := entity.HashID(d.Name(), actor.key(), detection.EpisodeID(ep.Start))
	desc := actor.String() + " read " + strconv.Itoa(ep.Distinct) + " distinct group objects on " + ev.GetHost() +
		" within " + d.Window.String() + " (from " + src.String() + ", logon session " + logonID + "), as an LDAP group enumeration does."
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, "4662 "+actor.String()+" read group "+object,
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName", "AccessMask")
	}
	a := reconAlert(id, d.Name(), "Domain group enumeration (burst of group object reads)", desc, adjoinv1.Severity_SEVERITY_MEDIUM,
		[]string{"T1069.002"}, ev, evidence)
	a.Entities = detection.Refs(
		actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}

// groupEnumGUID reads a GUID written "%{guid}", "{guid}" or bare; "" when v is not one.
func groupEnumGUID(v string) string {
	return entity.NormalizeGUID(strings.TrimPrefix(strings.TrimSpace(v), "%"))
}
