package detect

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Helpers shared by the domain-dominance and persistence detectors (zerologon,
// dc-password-reset, dcshadow, samaccountname-spoofing, the 5136 attribute detectors).

// domIsDCAccount reports whether sam names a domain controller's computer account: the
// account of the DC that logged the event (MORDORDC$ on MORDORDC), or one the directory
// (may be nil) knows as a DC.
func domIsDCAccount(dir DomainControllers, host, domain, sam string) bool {
	if !entity.IsMachineAccount(sam) {
		return false
	}
	name := strings.TrimSuffix(strings.TrimSpace(sam), "$")
	if nb, _ := entity.HostNames(host); nb != "" && strings.EqualFold(nb, name) {
		return true
	}
	return domIsDCName(dir, domain, sam)
}

// domIsDCName asks the directory (may be nil) whether sam is a domain controller's account.
func domIsDCName(dir DomainControllers, domain, sam string) bool {
	if dir == nil {
		return false
	}
	isDC, known := dir.IsDomainController(entity.Fold(domain), entity.Fold(sam))
	return known && isDC
}

// domTarget is the Target* account of an account-management event (4724, 4738, 4741, 4742,
// 4765).
func domTarget(f map[string]string) reconAccount {
	return reconAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetSid"])
}

// Episodes are the settings and state of a detector that raises one alert per key and
// episode: events for one key less than Window apart share an episode, named by its first
// event's time. The detectors that embed it say what a key is.
type Episodes struct {
	// Window is the longest gap between two events of one episode.
	Window time.Duration
	// MaxKeys bounds the keys tracked at once (default 10 000).
	MaxKeys int

	burst *detection.Burst
}

// episodesOf returns the settings with window and 10 000 keys.
func episodesOf(window time.Duration) Episodes { return Episodes{Window: window, MaxKeys: 10_000} }

// episode returns the start of key's episode at t, as text for alert ids.
func (e *Episodes) episode(key string, t time.Time) string {
	if e.burst == nil {
		e.burst = &detection.Burst{Window: e.Window, Threshold: 1, MaxKeys: e.MaxKeys}
	}
	return detection.EpisodeID(e.burst.Add(key, "", t).Start)
}

// domAlert is a domain-dominance or persistence alert: the reconnaissance alert's shape with
// another kill-chain phase and the given entities.
func domAlert(id, detector, title, description string, severity adjoinv1.Severity, phase adjoinv1.KillChainPhase,
	techniques []string, ev *adjoinv1.Event, evidence *adjoinv1.Evidence, refs ...*adjoinv1.EntityRef) *adjoinv1.Alert {
	a := reconAlert(id, detector, title, description, severity, techniques, ev, evidence)
	a.KillChainPhase = phase
	a.Entities = detection.Refs(refs...)
	return a
}

// domDash reports a field Windows left empty ("-", or blank).
func domDash(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || v == "-"
}

// domRef references an account as an entity: a computer for a machine account (MORDORDC$),
// else a user.
func domRef(a reconAccount, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	if a.empty() {
		return nil
	}
	if a.machine() {
		return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: role, Sid: a.SID,
			NetbiosName: strings.TrimSuffix(a.Sam, "$"), Domain: a.Domain}
	}
	return a.ref(role)
}

// domActor is the acting account as an entity, or nil for an empty account or a local system
// identity.
func domActor(a reconAccount) *adjoinv1.EntityRef {
	if a.empty() || a.system() {
		return nil
	}
	return a.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
}

// domInsertion is the i-th unnamed insertion string of a classic event (NETLOGON, NTDS): the
// EVTX conversion keeps unnamed <Data> as a JSON array in "Data" ("" when absent).
func domInsertion(f map[string]string, i int) string {
	raw := strings.TrimSpace(f["Data"])
	if !strings.HasPrefix(raw, "[") {
		if i == 0 {
			return raw
		}
		return ""
	}
	var values []*string
	if err := json.Unmarshal([]byte(raw), &values); err != nil || i >= len(values) || values[i] == nil {
		return ""
	}
	return strings.TrimSpace(*values[i])
}
