package detection

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Versions turns the successive emissions of one alert into versions of that alert. Detectors
// emit an alert again as an attack goes on (one more sprayed account, one more piece of
// evidence, a privileged target that raises the severity), always with the same id. Published
// as they come, every emission after the first would carry the first one's version, and
// JetStream would drop it as a duplicate of that version: the accounts it adds would never be
// counted. Versions gives each emission whose content differs from the last one a version one
// higher, so the correlator counts the new entities and replaces severity and status.
//
// Each published version carries what the alert has gathered so far: evidence accumulates (up
// to MaxEvidence), the activity span widens, the severity a detector raised stays, MITRE
// techniques accumulate. Entities do not: a version names the entities of its own emission, and the
// correlator keeps an alert counted on every entity any version named. Unioning them here
// would make every version of a long spray rewrite every earlier target's record.
//
// Memory is bounded by MaxAlerts alerts; the least recently updated is forgotten first, and an
// emission of a forgotten alert starts again from its own version. Not safe for concurrent use.
type Versions struct {
	// MaxAlerts bounds the alerts remembered (default 4096).
	MaxAlerts int
	// MaxEvidence bounds the evidence one version carries (default 100): the first pieces are
	// kept, they show how the attack began.
	MaxEvidence int

	byID map[string]*list.Element
	lru  list.List // of *versioned, most recently updated at the front
}

type versioned struct {
	alert  *adjoinv1.Alert // the last version returned
	digest string          // contentDigest(alert)
	source int64           // the highest version a detector gave this alert
}

// Next folds a, a detector's emission, into what is known of its alert and returns the version
// to publish. An emission that adds nothing returns the same version again, so publishing it is
// deduplicated.
func (v *Versions) Next(a *adjoinv1.Alert) *adjoinv1.Alert {
	if v.byID == nil {
		v.byID = map[string]*list.Element{}
	}
	maxEvidence := v.MaxEvidence
	if maxEvidence <= 0 {
		maxEvidence = 100
	}
	el, ok := v.byID[a.GetId()]
	if !ok {
		out := proto.Clone(a).(*adjoinv1.Alert)
		out.Version = max(out.GetVersion(), 1)
		if len(out.Evidence) > maxEvidence {
			out.Evidence = out.Evidence[:maxEvidence]
		}
		v.remember(&versioned{alert: out, digest: contentDigest(out), source: a.GetVersion()})
		return proto.Clone(out).(*adjoinv1.Alert)
	}
	prev := el.Value.(*versioned)
	out := fold(prev.alert, a, a.GetVersion()-prev.source, maxEvidence)
	out.Version = max(prev.alert.GetVersion(), a.GetVersion(), 1)
	// Equal versions: the digests differ exactly when the content does.
	digest := contentDigest(out)
	if out.GetVersion() == prev.alert.GetVersion() && digest != prev.digest {
		out.Version++
		digest = contentDigest(out)
	}
	prev.alert, prev.digest, prev.source = out, digest, max(prev.source, a.GetVersion())
	v.lru.MoveToFront(el)
	return proto.Clone(out).(*adjoinv1.Alert)
}

// fold returns the alert after prev given a new emission a; newer compares a's version with
// the highest its detector gave before. A detector's repeated emissions share one version, and
// the latest gives the content; an emission with a lower version than seen (an out-of-order
// product alert update) leaves the content as it was.
func fold(prev, a *adjoinv1.Alert, newer int64, maxEvidence int) *adjoinv1.Alert {
	base, other := a, prev
	if newer < 0 {
		base, other = prev, a
	}
	out := proto.Clone(base).(*adjoinv1.Alert)
	if newer == 0 {
		// A detector's emissions: the severity one of them raised (a privileged target) stays.
		// A product's newer version may lower it.
		out.Severity = max(prev.GetSeverity(), a.GetSeverity())
	}
	if t := other.GetFirstActivity(); t != nil && (out.FirstActivity == nil || t.AsTime().Before(out.FirstActivity.AsTime())) {
		out.FirstActivity = t
	}
	if t := other.GetLastActivity(); t != nil && (out.LastActivity == nil || t.AsTime().After(out.LastActivity.AsTime())) {
		out.LastActivity = t
	}
	if t := other.GetUpdatedTime(); t != nil && (out.UpdatedTime == nil || t.AsTime().After(out.UpdatedTime.AsTime())) {
		out.UpdatedTime = t
	}
	for _, m := range other.GetMitreTechniques() {
		if !slices.Contains(out.MitreTechniques, m) {
			out.MitreTechniques = append(out.MitreTechniques, m)
		}
	}
	evidence := slices.Clone(prev.GetEvidence())
	for _, e := range a.GetEvidence() {
		if len(evidence) >= maxEvidence {
			break
		}
		if !slices.ContainsFunc(evidence, func(p *adjoinv1.Evidence) bool { return proto.Equal(p, e) }) {
			evidence = append(evidence, e)
		}
	}
	out.Evidence = evidence
	return out
}

func (v *Versions) remember(x *versioned) {
	limit := v.MaxAlerts
	if limit <= 0 {
		limit = 4096
	}
	for v.lru.Len() >= limit {
		oldest := v.lru.Back()
		delete(v.byID, oldest.Value.(*versioned).alert.GetId())
		v.lru.Remove(oldest)
	}
	v.byID[x.alert.GetId()] = v.lru.PushFront(x)
}

// contentDigest identifies an alert version by everything it says.
func contentDigest(a *adjoinv1.Alert) string {
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}
