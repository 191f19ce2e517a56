package detect

import (
	"cmp"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// HoneytokenAccess raises an alert whenever anything touches a honeytoken: a decoy account no
// one has a reason to use or look at, so any sign of it is an intruder's enumeration or use.
//
//   - authentication as it: 4624, 4625, 4768, 4769 (as requester), 4771, 4776;
//   - a service ticket for it (4769 ServiceName: Kerberoasting a decoy SPN account);
//   - a directory read of its object (4662 ObjectName = its objectGUID or DN) or a SAM open of
//     it (4661 ObjectName = its SID or DN), and any object access made as it (4661/4662 Subject).
//
// Honeytokens are named by sAMAccountName (optionally DOMAIN\sam or sam@realm; the domain is
// ignored), SID, objectGUID or distinguished name. With none configured the detector is
// silent. One alert per honeytoken, acting account and episode (events less than Window
// apart).
type HoneytokenAccess struct {
	// Window groups the touches of one honeytoken by one account into one alert while they
	// keep coming less than Window apart (default 1 h).
	Window time.Duration
	// MaxKeys bounds the (honeytoken, account) pairs tracked at once (default 10 000).
	MaxKeys int

	sams, sids, guids, dns map[string]string // normalised form -> the configured name
	sessions               *Sessions
	burst                  *detection.Burst
}

// NewHoneytokenAccess returns the detector for the given honeytokens: each a sAMAccountName,
// SID, objectGUID (with or without braces) or distinguished name, told apart by form.
// sessions (may be nil) gives object reads the address of their logon session.
func NewHoneytokenAccess(sessions *Sessions, honeytokens ...string) *HoneytokenAccess {
	d := &HoneytokenAccess{
		Window: time.Hour, MaxKeys: 10_000, sessions: sessions,
		sams: map[string]string{}, sids: map[string]string{}, guids: map[string]string{}, dns: map[string]string{},
	}
	for _, h := range honeytokens {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
		case entity.IsSID(h):
			d.sids[entity.NormalizeSID(h)] = h
		case honeytokenGUID(h) != "":
			d.guids[honeytokenGUID(h)] = h
		case strings.Contains(h, "="):
			d.dns[honeytokenDN(h)] = h
		default:
			if _, sam := entity.SplitAccount(h); sam != "" {
				d.sams[sam] = h
			}
		}
	}
	return d
}

// Name implements detection.Detector.
func (d *HoneytokenAccess) Name() string { return "honeytoken-access" }

// honeytokenHit is one way an event touched a honeytoken.
type honeytokenHit struct {
	token  string        // the configured name it matched
	actor  reconAccount  // who acted (the honeytoken itself for authentication)
	target *reconAccount // the honeytoken as an object acted upon, when actor is someone else
	guid   string        // the honeytoken's objectGUID, when the event named it
	src    reconSource
	what   string
	keys   []string
}

// Detect implements detection.Detector.
func (d *HoneytokenAccess) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if len(d.sams)+len(d.sids)+len(d.guids)+len(d.dns) == 0 || !detection.IsSecurity(ev) {
		return nil
	}
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: 1, MaxKeys: d.MaxKeys}
	}
	var out []*adjoinv1.Alert
	for _, h := range d.hits(ev) {
		// By sAMAccountName alone: the same account comes as THESHIRE\x (Subject fields),
		// theshire.local\x (4624, 4769) and bare x (4771, 4776).
		key := entity.Fold(h.token) + "|" + h.actor.Sam
		ep := d.burst.Add(key, key, ev.GetTime().AsTime())
		id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
		desc := h.actor.String() + " " + h.what + " (honeytoken " + h.token + ") on " + ev.GetHost() + " from " + h.src.String() + "."
		a := reconAlert(id, d.Name(), "Honeytoken account touched", desc, adjoinv1.Severity_SEVERITY_HIGH,
			[]string{"T1087"}, ev, reconEvidence(ev, reconEventID(ev)+" "+h.actor.String()+" "+h.what, h.keys...))
		var target *adjoinv1.EntityRef
		if h.target != nil {
			target = h.target.ref(adjoinv1.EntityRole_ENTITY_ROLE_TARGET)
			target.ObjectGuid = h.guid
		}
		a.Entities = detection.Refs(
			h.actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
			target,
			h.src.ref(),
			detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
		)
		out = append(out, a)
	}
	return out
}

// hits lists the ways ev touched a honeytoken (at most one as actor, one as object).
func (d *HoneytokenAccess) hits(ev *adjoinv1.Event) []honeytokenHit {
	f := ev.GetFields()
	authKeys := []string{"TargetUserName", "TargetDomainName", "TargetUserSid", "TargetSid", "TargetLogonId", "LogonType", "ServiceName", "Status", "IpAddress", "IpPort", "Workstation", "WorkstationName"}
	target := reconAccountOf(f["TargetUserName"], f["TargetDomainName"], cmp.Or(f["TargetUserSid"], f["TargetSid"]))
	var out []honeytokenHit
	switch ev.GetEventId() {
	case 4624, 4625, 4768, 4771, 4776:
		if token, ok := d.account(target); ok {
			src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
			if src.IP == "" {
				src.Host = honeytokenHost(cmp.Or(f["WorkstationName"], f["Workstation"]))
			}
			what := honeytokenAuth[ev.GetEventId()]
			if st, err := winevent.ParseHex(f["Status"]); err == nil && st != 0 {
				what += " with status " + f["Status"]
			}
			out = append(out, honeytokenHit{token: token, actor: target, src: src, what: what, keys: authKeys})
		}
	case 4769:
		src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
		if token, ok := d.account(target); ok {
			out = append(out, honeytokenHit{token: token, actor: target, src: src, what: "requested a service ticket for " + f["ServiceName"], keys: authKeys})
		}
		service := reconAccountOf(f["ServiceName"], "", f["ServiceSid"])
		if token, ok := d.account(service); ok && !target.empty() {
			out = append(out, honeytokenHit{token: token, actor: target, target: &service, src: src, what: "requested a service ticket for " + f["ServiceName"], keys: authKeys})
		}
	case 4661, 4662:
		actor := reconSubject(f)
		if actor.empty() || actor.system() {
			return nil
		}
		logonID := normHex(f["SubjectLogonId"])
		src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
		keys := []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName", "AccessMask", "Properties"}
		if token, ok := d.account(actor); ok {
			out = append(out, honeytokenHit{token: token, actor: actor, src: src, what: "accessed directory object " + f["ObjectName"], keys: keys})
		}
		if token, obj, ok := d.object(f["ObjectName"]); ok {
			out = append(out, honeytokenHit{token: token, actor: actor, target: &obj.account, guid: obj.guid, src: src, what: "read the honeytoken's directory object " + f["ObjectName"], keys: keys})
		}
	}
	return out
}

var honeytokenAuth = map[int32]string{
	4624: "logged on (4624)",
	4625: "failed to log on (4625)",
	4768: "requested a TGT (4768)",
	4771: "failed Kerberos pre-authentication (4771)",
	4776: "authenticated over NTLM (4776)",
}

// account reports whether a names a honeytoken, by SID or sAMAccountName.
func (d *HoneytokenAccess) account(a reconAccount) (string, bool) {
	if a.SID != "" {
		if t, ok := d.sids[a.SID]; ok {
			return t, true
		}
	}
	if a.empty() {
		return "", false
	}
	t, ok := d.sams[a.Sam]
	return t, ok
}

// honeytokenObject is a honeytoken named by an object reference.
type honeytokenObject struct {
	account reconAccount
	guid    string
}

// object reports whether a 4661/4662 ObjectName (%{guid}, a DN or, for SAM_USER, a SID) names
// a honeytoken.
func (d *HoneytokenAccess) object(name string) (string, honeytokenObject, bool) {
	if g := honeytokenGUID(name); g != "" {
		t, ok := d.guids[g]
		return t, honeytokenObject{guid: g}, ok
	}
	if sid := entity.NormalizeSID(name); sid != "" {
		t, ok := d.sids[sid]
		return t, honeytokenObject{account: reconAccount{account{SID: sid}}}, ok
	}
	if strings.Contains(name, "=") {
		t, ok := d.dns[honeytokenDN(name)]
		return t, honeytokenObject{}, ok
	}
	return "", honeytokenObject{}, false
}

// honeytokenGUID reads a GUID written "%{guid}", "{guid}" or bare; "" when v is not one.
func honeytokenGUID(v string) string {
	return entity.NormalizeGUID(strings.TrimPrefix(strings.TrimSpace(v), "%"))
}

// honeytokenDN folds a distinguished name and drops the spaces around its separators.
func honeytokenDN(v string) string {
	parts := strings.Split(entity.Fold(v), ",")
	for i, p := range parts {
		if k, val, ok := strings.Cut(p, "="); ok {
			parts[i] = strings.TrimSpace(k) + "=" + strings.TrimSpace(val)
		}
	}
	return strings.Join(parts, ",")
}

// honeytokenHost is a workstation name from an authentication event, without the UNC
// prefix 4776 sometimes writes; "" for the "-" placeholder.
func honeytokenHost(v string) string {
	v = strings.TrimLeft(strings.TrimSpace(v), `\`)
	if v == "-" {
		return ""
	}
	return v
}
