package detect

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Helpers shared by the credential-access detectors (password-spray, password-brute-force,
// kerberoasting, asrep-roasting).

// credAccessAccount is an account named in an event, split and folded: 4768/4771 write a bare
// name, 4769 writes name@REALM, 4625 a name plus a domain field.
type credAccessAccount struct {
	account
}

// credAccessAccountOf builds an account from a name (bare, DOMAIN\name or name@realm), the
// event's separate domain field and a SID field. The null SID (S-1-0-0, written for unknown
// names) and placeholders are dropped.
func credAccessAccountOf(name, domain, sid string) credAccessAccount {
	d, sam := entity.SplitAccount(name)
	if d == "" && entity.Fold(domain) != "-" {
		d = entity.Fold(domain)
	}
	return credAccessAccount{account{Sam: sam, Domain: d, SID: accountSID(sid)}}
}

// system reports the local identities (SYSTEM, LOCAL SERVICE, NETWORK SERVICE, ANONYMOUS
// LOGON) that are not directory accounts.
func (a credAccessAccount) system() bool {
	return localSID(a.SID) || a.Domain == "nt authority" || a.Sam == "anonymous logon"
}

// key names the account in burst keys and alert ids. It is the sAMAccountName alone: the
// same account is written with its NetBIOS domain, its DNS realm or no domain at all
// depending on the event.
func (a credAccessAccount) key() string { return a.Sam }

// ref is the entity reference of the account; machine accounts are computers.
func (a credAccessAccount) ref(role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	if a.empty() || a.system() {
		return nil
	}
	kind := adjoinv1.EntityKind_ENTITY_KIND_USER
	if a.machine() {
		kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
	}
	return &adjoinv1.EntityRef{Kind: kind, Role: role, Sid: a.SID, SamAccountName: a.Sam, Domain: a.Domain}
}

// credAccessSource is where an authentication attempt came from: the client address
// (Kerberos events, 4624/4625) and/or the client's own workstation name (4625, NTLM 4776).
type credAccessSource struct {
	IP, Host string
	// Local marks the host that logged the event standing in for a loopback or absent source.
	Local bool
}

// key is the source as one string for burst keys and alert ids, "" when unknown. The address
// wins over the name, which the client chooses.
func (s credAccessSource) key() string {
	if s.IP != "" {
		return "ip:" + strings.ToLower(s.IP)
	}
	if nb, _ := entity.HostNames(s.Host); nb != "" && nb != "-" {
		return "host:" + nb
	}
	return ""
}

// ref is the source computer entity, or nil when nothing is known.
func (s credAccessSource) ref() *adjoinv1.EntityRef {
	var ref *adjoinv1.EntityRef
	if nb, _ := entity.HostNames(s.Host); nb != "" && nb != "-" {
		ref = detection.HostRef(s.Host, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
	}
	if s.IP != "" {
		if ref == nil {
			ref = &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST}
		}
		ref.Ip = s.IP
	}
	return ref
}

func (s credAccessSource) String() string {
	switch {
	case s.IP != "":
		return s.IP
	case s.Local && s.Host != "":
		return s.Host + " itself (loopback or no client address)"
	case s.Host != "":
		return s.Host
	}
	return "an unknown source"
}

// credAccessEvidence is the evidence of one event, with the fields the detector used.
func credAccessEvidence(ev *adjoinv1.Event, summary string, keys ...string) *adjoinv1.Evidence {
	return &adjoinv1.Evidence{
		Kind:     "windows-event",
		Summary:  summary,
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  strconv.Itoa(int(ev.GetEventId())),
		RecordId: ev.GetRecordId(),
		Fields:   detection.Pick(ev.GetFields(), keys...),
	}
}

// credAccessAlert fills the fields every credential-access alert shares; activity spans first
// to the event's time. The caller adds entities.
func credAccessAlert(id, detector, title, description string, severity adjoinv1.Severity, technique string, ev *adjoinv1.Event, first time.Time, evidence []*adjoinv1.Evidence) *adjoinv1.Alert {
	t := ev.GetTime().AsTime()
	if first.IsZero() || first.After(t) {
		first = t
	}
	a := identityAlert(&adjoinv1.Alert{
		Id:              id,
		Title:           title,
		Description:     description,
		Detector:        detector,
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{technique},
		Severity:        severity,
		Evidence:        evidence,
	}, t)
	a.FirstActivity = timestamppb.New(first)
	return a
}

// credAccessEntities drops nil and repeated references.
func credAccessEntities(refs ...*adjoinv1.EntityRef) []*adjoinv1.EntityRef {
	out := make([]*adjoinv1.EntityRef, 0, len(refs))
	for _, r := range refs {
		if r == nil {
			continue
		}
		dup := false
		for _, o := range out {
			if proto.Equal(o, r) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}

// credAccessDC is the domain controller (or host) that logged the event. It is a target, so
// the correlator does not join unrelated alerts through it.
func credAccessDC(ev *adjoinv1.Event) *adjoinv1.EntityRef {
	if ev.GetHost() == "" {
		return nil
	}
	return detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
}

// credAccessCapped is the evidence of items that alert id may still carry under c, in order.
func credAccessCapped(c *detection.EvidenceCap, id string, items []credAccessItem, max int) []*adjoinv1.Evidence {
	var out []*adjoinv1.Evidence
	for _, it := range items[:c.Take(id, len(items), max)] {
		out = append(out, it.Evidence)
	}
	return out
}

// credAccessNamed walks the items of a threshold alert in order: each caller becomes an
// actor, and each distinct party that party gives (the source of a brute force, the account
// of a spray) is named once in names and, for the first max of them (<= 0: all), becomes an
// entity through its ref.
func credAccessNamed(items []credAccessItem, max int, party func(credAccessAttempt) (key, name string, ref func() *adjoinv1.EntityRef)) (refs []*adjoinv1.EntityRef, names []string) {
	seen := map[string]bool{}
	for _, it := range items {
		if c := it.Attempt.Caller.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); c != nil {
			refs = append(refs, c)
		}
		key, name, ref := party(it.Attempt)
		if seen[key] {
			continue
		}
		seen[key] = true
		names = append(names, name)
		if max <= 0 || len(names) <= max {
			refs = append(refs, ref())
		}
	}
	return refs, names
}

// credAccessItem is one event a threshold detector has seen but not yet alerted on.
type credAccessItem struct {
	At       time.Time
	Attempt  credAccessAttempt
	Evidence *adjoinv1.Evidence
}

// credAccessRecent remembers, per burst key, the events of the current window that did not
// raise an alert (yet), so the alert that crosses a threshold carries the events that led to
// it, and its activity starts with the first of them. It follows the same episodes as the
// detection.Burst it sits next to: a gap longer than Window starts the key afresh. Memory is
// bounded by PerKey items per key and MaxKeys keys (the least recently active are dropped).
type credAccessRecent struct {
	Window  time.Duration
	PerKey  int
	MaxKeys int

	m map[string]*credAccessQueue
}

type credAccessQueue struct {
	items   []credAccessItem
	episode time.Time // start of the episode already alerted on, zero before
	last    time.Time // last counted event
}

// observe records a counted event under key, given the episode Burst returned for it. It
// returns the events to put in an alert: nothing while the episode is inactive; every
// remembered event plus this one when the episode has just started (fresh); this event alone
// afterwards.
func (r *credAccessRecent) observe(key string, it credAccessItem, ep detection.Episode) (items []credAccessItem, fresh bool) {
	q := r.queue(key, it.At)
	if it.At.After(q.last) {
		q.last = it.At
	}
	if !ep.Active {
		q.items = append(q.items, it)
		if r.PerKey > 0 && len(q.items) > r.PerKey {
			q.items = q.items[len(q.items)-r.PerKey:]
		}
		return nil, false
	}
	if q.episode.Equal(ep.Start) {
		return []credAccessItem{it}, false
	}
	q.episode = ep.Start
	items = append(q.items, it)
	q.items = nil
	return items, true
}

// follow handles an event that does not count towards the threshold but matters after it (a
// successful logon from a spraying source). When key's episode is active it returns the
// episode start; otherwise it remembers the event, if key has counted events in the window,
// for the alert that may come.
func (r *credAccessRecent) follow(key string, it credAccessItem) (time.Time, bool) {
	q, ok := r.m[key]
	if !ok || it.At.Sub(q.last) > r.Window {
		return time.Time{}, false
	}
	if !q.episode.IsZero() {
		return q.episode, true
	}
	q.items = append(q.items, it)
	if r.PerKey > 0 && len(q.items) > r.PerKey {
		q.items = q.items[len(q.items)-r.PerKey:]
	}
	return time.Time{}, false
}

// queue returns key's queue for an event at t, starting afresh after a gap longer than the
// window and dropping items older than the window.
func (r *credAccessRecent) queue(key string, t time.Time) *credAccessQueue {
	if r.m == nil {
		r.m = map[string]*credAccessQueue{}
	}
	q, ok := r.m[key]
	if !ok || t.Sub(q.last) > r.Window {
		if !ok {
			r.evict()
		}
		q = &credAccessQueue{last: t}
		r.m[key] = q
		return q
	}
	kept := q.items[:0]
	for _, it := range q.items {
		if t.Sub(it.At) <= r.Window {
			kept = append(kept, it)
		}
	}
	q.items = kept
	return q
}

// evict makes room for one more key by dropping the least recently active one.
func (r *credAccessRecent) evict() {
	if r.MaxKeys <= 0 || len(r.m) < r.MaxKeys {
		return
	}
	var oldest string
	var at time.Time
	for k, q := range r.m {
		if oldest == "" || q.last.Before(at) {
			oldest, at = k, q.last
		}
	}
	delete(r.m, oldest)
}
