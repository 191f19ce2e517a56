package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// PasswordSpray raises an alert when one source fails to authenticate as many distinct
// accounts within a window (T1110.003): a few passwords tried against many accounts, which
// stays under every account's lockout threshold. It counts Kerberos pre-authentication
// failures (4771 wrong password, 4768/4771 revoked account), NTLM failures on the DC (4776)
// and failed logons on any host (4625, not batch or service logons, which retry a stored
// password); attempts against names that do not exist are left to account-enumeration.
//
// Two thresholds count: Threshold accounts within Window (a patient spray) and FastThreshold
// accounts within FastWindow (a tool trying a list in seconds); either starts the episode.
//
// A source is the client address, or the client's workstation name when the event has no
// address (4776, local 4625, a Samba NTLM logon over loopback); a name that events with both
// (4625, 4624) showed with an address within Window counts as that address, so the DC's 4776
// and a member server's 4625 of one NTLM spray are one source (until the first event with
// both arrives, the name counts on its own). A failure with neither (a loopback or
// placeholder address, no name) comes from the host that logged it, named as the source:
// "this DC". One alert per source and episode. An account that then
// authenticates successfully from the same source during the episode (4768 with
// pre-authentication, 4776, network 4624) gets an alert of its own, with that account as the
// actor: the spray probably found its password.
//
// Busy front ends that authenticate on behalf of many users (Exchange, ADFS, VPN/RADIUS,
// terminal servers) can reach the threshold on ordinary typing mistakes; raise Threshold or
// filter them upstream.
type PasswordSpray struct {
	// CredAccessThresholds count distinct failed accounts per source (keys: sources; values:
	// accounts).
	CredAccessThresholds
	// MaxTargets bounds the attacked accounts named as entities of one alert (default 25).
	MaxTargets int

	names *credAccessNames
}

// NewPasswordSpray returns the detector with its defaults: 10 distinct accounts within 10
// minutes, or 5 within 1 minute.
func NewPasswordSpray() *PasswordSpray {
	return &PasswordSpray{CredAccessThresholds: credAccessThresholdsOf(10, 10*time.Minute, 5), MaxTargets: 25}
}

// Name implements detection.Detector.
func (d *PasswordSpray) Name() string { return "password-spray" }

// Detect implements detection.Detector.
func (d *PasswordSpray) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	at, ok := credAccessAttemptOf(ev, d.KerberosFailures)
	if !ok {
		return nil
	}
	if d.start(4) {
		d.names = newCredAccessNames(d.tiers.gap, d.MaxKeys)
	}
	t := ev.GetTime().AsTime()
	at.Source = d.names.place(at.Source, t)
	src := at.Source.key()
	item := credAccessItem{At: t, Attempt: at, Evidence: credAccessEvidence(ev, sprayEvidenceSummary(ev, at), at.keys...)}
	if !at.Failed {
		if at.Account.machine() {
			// A machine account logging on from the spraying host is that host itself.
			return nil
		}
		start, active := d.recent.follow(src, item)
		if !active {
			return nil
		}
		return []*adjoinv1.Alert{d.successAlert(ev, src, start, item)}
	}
	ep, window := d.tiers.add(src, src, at.Account.key(), t)
	items, fresh := d.recent.observe(src, item, ep)
	if !ep.Active {
		return nil
	}
	id := entity.HashID(d.Name(), src, detection.EpisodeID(ep.Start))
	var failures, successes []credAccessItem
	for _, it := range items {
		if it.Attempt.Failed {
			failures = append(failures, it)
		} else {
			successes = append(successes, it)
		}
	}
	evidence := credAccessCapped(&d.cap, id, failures, d.MaxEvidence)
	named, names := credAccessNamed(failures, d.MaxTargets, func(a credAccessAttempt) (string, string, func() *adjoinv1.EntityRef) {
		return a.Account.key(), a.Account.Sam, func() *adjoinv1.EntityRef { return a.Account.ref(adjoinv1.EntityRole_ENTITY_ROLE_TARGET) }
	})
	refs := append([]*adjoinv1.EntityRef{at.Source.ref(), credAccessDC(ev)}, named...)
	listed := sprayList(names, 10)
	if !fresh {
		// A later emission names its own accounts; the alert's evidence has all of them.
		listed = "the latest: " + listed
	}
	desc := fmt.Sprintf("%s failed to authenticate as %d or more distinct accounts within %s (%s), the pattern of a password spray; recorded by %s.",
		at.Source, ep.Distinct, window, listed, ev.GetHost())
	if caller := at.Caller; !caller.empty() {
		desc += " The logons were requested by " + caller.String() + "."
	}
	a := credAccessAlert(id, d.Name(), "Password spray from "+at.Source.String(), desc,
		adjoinv1.Severity_SEVERITY_MEDIUM, "T1110.003", ev, failures[0].At, evidence)
	a.Entities = credAccessEntities(refs...)
	out := []*adjoinv1.Alert{a}
	if fresh {
		for _, it := range successes {
			out = append(out, d.successAlert(ev, src, ep.Start, it))
		}
	}
	return out
}

// successAlert reports an account that authenticated from a source during its spray episode.
// The event is the one that logged the success, except for successes remembered from before
// the threshold was reached.
func (d *PasswordSpray) successAlert(ev *adjoinv1.Event, src string, episode time.Time, it credAccessItem) *adjoinv1.Alert {
	acct := it.Attempt.Account
	id := entity.HashID(d.Name(), "success", src, detection.EpisodeID(episode), acct.key())
	var evidence []*adjoinv1.Evidence
	if d.cap.Take(id, 1, d.MaxEvidence) == 1 {
		evidence = []*adjoinv1.Evidence{it.Evidence}
	}
	desc := fmt.Sprintf("%s authenticated successfully from %s (%s, recorded by %s) while that source was spraying passwords; the spray probably found this account's password.",
		acct, it.Attempt.Source, it.Evidence.GetSummary(), it.Evidence.GetHost())
	a := credAccessAlert(id, d.Name(), "Successful logon from a password-spraying source: "+acct.Sam, desc,
		adjoinv1.Severity_SEVERITY_HIGH, "T1110.003", ev, it.At, evidence)
	a.FirstActivity, a.LastActivity, a.UpdatedTime = it.Evidence.GetTime(), it.Evidence.GetTime(), it.Evidence.GetTime()
	a.Entities = credAccessEntities(
		acct.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		it.Attempt.Source.ref(),
		sprayHostRef(it.Evidence.GetHost()),
	)
	return a
}

// sprayEvidenceSummary is one line per attempt: "4771 admin-hacker failed (0x18) from 10.23.123.11".
func sprayEvidenceSummary(ev *adjoinv1.Event, at credAccessAttempt) string {
	verdict := "failed"
	if !at.Failed {
		verdict = "succeeded"
	}
	return fmt.Sprintf("%d %s %s (%s) from %s", ev.GetEventId(), at.Account, verdict, at.Result, at.Source)
}

// sprayList names up to n accounts, with a count of the rest.
func sprayList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// sprayHostRef is the host that logged an event, as a target.
func sprayHostRef(host string) *adjoinv1.EntityRef {
	if host == "" {
		return nil
	}
	return detection.HostRef(host, adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
}
