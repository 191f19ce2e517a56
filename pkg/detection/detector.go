package detection

import (
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Detector looks at one event at a time and returns the alerts it raises, if any. A detector
// may keep bounded state (recent logon sessions, for example), so it must see events in order
// and is not safe for concurrent use. Alert ids must be deterministic: the same events give the
// same ids, so a replay never creates new alerts.
type Detector interface {
	Name() string
	Detect(ev *adjoinv1.Event) []*adjoinv1.Alert
}

// Run passes ev to every detector and merges alerts that share an id.
func Run(detectors []Detector, ev *adjoinv1.Event) []*adjoinv1.Alert {
	var out []*adjoinv1.Alert
	for _, d := range detectors {
		out = append(out, d.Detect(ev)...)
	}
	return out
}

// Merge folds alerts with the same id into one: activity times widen, and evidence, entity
// references and MITRE techniques accumulate, in first-seen order. Several events of one attack (three 4662 of one DCSync) become one alert.
func Merge(alerts []*adjoinv1.Alert) []*adjoinv1.Alert {
	byID := map[string]*adjoinv1.Alert{}
	var out []*adjoinv1.Alert
	for _, a := range alerts {
		prev, ok := byID[a.GetId()]
		if !ok {
			a = proto.Clone(a).(*adjoinv1.Alert)
			byID[a.GetId()] = a
			out = append(out, a)
			continue
		}
		if a.GetVersion() > prev.GetVersion() {
			// A newer version (a product alert's status update) replaces the content; the
			// evidence and the activity span still accumulate below.
			first, evidence := prev.GetFirstActivity(), prev.GetEvidence()
			proto.Reset(prev)
			proto.Merge(prev, a)
			prev.FirstActivity, prev.Evidence = first, evidence
		}
		if a.GetVersion() == prev.GetVersion() {
			// Emissions of one version: the severity one of them raised (a privileged target) stays.
			prev.Severity = max(prev.GetSeverity(), a.GetSeverity())
		}
		if a.GetFirstActivity().AsTime().Before(prev.GetFirstActivity().AsTime()) {
			prev.FirstActivity = a.GetFirstActivity()
		}
		if a.GetLastActivity().AsTime().After(prev.GetLastActivity().AsTime()) {
			prev.LastActivity = a.GetLastActivity()
		}
		// A later event may know more about the entities (a source address seen after the
		// process start): references not yet on the alert are added.
		for _, ref := range a.GetEntities() {
			if !slices.ContainsFunc(prev.Entities, func(p *adjoinv1.EntityRef) bool { return proto.Equal(p, ref) }) {
				prev.Entities = append(prev.Entities, ref)
			}
		}
		for _, e := range a.GetEvidence() {
			if !slices.ContainsFunc(prev.Evidence, func(p *adjoinv1.Evidence) bool { return proto.Equal(p, e) }) {
				prev.Evidence = append(prev.Evidence, e)
			}
		}
		// Techniques accumulate as in Versions: a later emission may name one more (an
		// executable write joining a service-control open).
		for _, m := range a.GetMitreTechniques() {
			if !slices.Contains(prev.MitreTechniques, m) {
				prev.MitreTechniques = append(prev.MitreTechniques, m)
			}
		}
	}
	return out
}

// Subject is the ALERTS subject of an alert: alerts.<side>.<detector>.
func Subject(a *adjoinv1.Alert) string {
	prefix := natsx.SubjectIdentityAlerts
	if a.GetSide() == adjoinv1.Side_SIDE_ENDPOINT {
		prefix = natsx.SubjectEndpointAlerts
	}
	return prefix + "." + natsx.Token(a.GetDetector())
}

// MsgID is the deduplication id of one version of an alert, content included: a retry of the
// same version is deduplicated, while a version that says something else under the same
// number (an ingestor restarted and forgot the alert's versions) is stored, and the correlator
// adds the entities it names.
func MsgID(a *adjoinv1.Alert) string {
	return entity.HashID("alert", a.GetId(), strconv.FormatInt(max(a.GetVersion(), 1), 10), contentDigest(a))
}
