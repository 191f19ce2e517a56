package detect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// PasswordBruteForce raises an alert when one account fails to authenticate many times within
// a window (T1110.001): passwords guessed against a single account, from one source or from
// several. It counts the same failures as PasswordSpray (4771/4768 bad password or revoked
// account, 4776, 4625), per account, whatever the source.
//
// Two thresholds count: Threshold failures within Window, from any source and logged by any
// host, and FastThreshold failures within FastWindow logged by one host (a tool guessing as
// fast as it can); either starts the episode. A source is taken as password-spray takes it:
// the address, else the workstation name, else the host that logged the failure (loopback,
// placeholders: "this DC").
//
// Every failed event counts towards Threshold, so one NTLM attempt logged both by a member
// server (4625) and by the DC (4776) counts twice; the fast tier counts per logging host, so
// it does not. A device retrying a stale password (a phone after a password
// change) looks the same as a slow brute force and is the usual false positive.
type PasswordBruteForce struct {
	// CredAccessThresholds count failures per account (keys: accounts; values: failed
	// events); the fast tier counts those logged by one host.
	CredAccessThresholds
	// MaxSources bounds the source computers named as entities of one alert (default 10).
	MaxSources int
}

// NewPasswordBruteForce returns the detector with its defaults: 20 failures within 5
// minutes, or 10 logged by one host within 1 minute.
func NewPasswordBruteForce() *PasswordBruteForce {
	return &PasswordBruteForce{CredAccessThresholds: credAccessThresholdsOf(20, 5*time.Minute, 10), MaxSources: 10}
}

// Name implements detection.Detector.
func (d *PasswordBruteForce) Name() string { return "password-brute-force" }

// Detect implements detection.Detector.
func (d *PasswordBruteForce) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	at, ok := credAccessAttemptOf(ev, d.KerberosFailures)
	if !ok || !at.Failed {
		return nil
	}
	d.start(1)
	key, t := at.Account.key(), ev.GetTime().AsTime()
	// The tiers count distinct values; every failed event is one value.
	ep, window := d.tiers.add(key, key+"|"+strings.ToLower(ev.GetHost()), bruteForceEventKey(ev), t)
	item := credAccessItem{At: t, Attempt: at, Evidence: credAccessEvidence(ev, sprayEvidenceSummary(ev, at), at.keys...)}
	items, _ := d.recent.observe(key, item, ep)
	if !ep.Active {
		return nil
	}
	id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
	evidence := credAccessCapped(&d.cap, id, items, d.MaxEvidence)
	named, sources := credAccessNamed(items, d.MaxSources, func(a credAccessAttempt) (string, string, func() *adjoinv1.EntityRef) {
		return a.Source.key(), a.Source.String(), a.Source.ref
	})
	refs := append([]*adjoinv1.EntityRef{at.Account.ref(adjoinv1.EntityRole_ENTITY_ROLE_TARGET)}, named...)
	refs = append(refs, credAccessDC(ev))
	desc := fmt.Sprintf("%s failed to authenticate %d or more times within %s from %s, the pattern of password guessing against one account; recorded by %s.",
		at.Account, ep.Distinct, window, strings.Join(sources, ", "), ev.GetHost())
	a := credAccessAlert(id, d.Name(), "Password brute force against "+at.Account.Sam, desc,
		adjoinv1.Severity_SEVERITY_MEDIUM, "T1110.001", ev, items[0].At, evidence)
	a.Entities = credAccessEntities(refs...)
	return []*adjoinv1.Alert{a}
}

// bruteForceEventKey tells one event from every other: its host, record number and time.
func bruteForceEventKey(ev *adjoinv1.Event) string {
	return ev.GetHost() + "|" + strconv.Itoa(int(ev.GetEventId())) + "|" + strconv.FormatInt(ev.GetRecordId(), 10) +
		"|" + strconv.FormatInt(ev.GetTime().AsTime().UnixNano(), 10)
}
