package detect

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// kerberoastWeakTypes are the ticket encryption types (4769 TicketEncryptionType) whose
// tickets crack fast offline. Domains that support AES issue them only when asked to, which
// is what Rubeus, GetUserSPNs and Invoke-Kerberoast do.
var kerberoastWeakTypes = map[uint64]string{
	0x1:  "DES-CBC-CRC",
	0x3:  "DES-CBC-MD5",
	0x17: "RC4-HMAC",
	0x18: "RC4-HMAC-EXP",
}

// kerberoastTypeNames names every ticket encryption type a Windows DC writes, for
// descriptions.
var kerberoastTypeNames = map[uint64]string{
	0x1:  "DES-CBC-CRC",
	0x3:  "DES-CBC-MD5",
	0x11: "AES128-CTS-HMAC-SHA1-96",
	0x12: "AES256-CTS-HMAC-SHA1-96",
	0x17: "RC4-HMAC",
	0x18: "RC4-HMAC-EXP",
}

// kerberoastTypeName names an encryption type field value ("0x00000017" gives RC4-HMAC),
// or returns it as written when unknown.
func kerberoastTypeName(field string) string {
	if v, err := winevent.ParseHex(field); err == nil {
		if name, ok := kerberoastTypeNames[v]; ok {
			return name
		}
	}
	return entity.Fold(field)
}

// Kerberoasting raises an alert when someone obtains service tickets that can be cracked
// offline for the password of a user service account (T1558.003). Only tickets for user
// accounts matter: computer accounts ($) and krbtgt have random 120-character passwords.
// Two patterns, both over successful 4769:
//
//   - weak: a ticket for a user service account with a weak encryption type (RC4 or DES).
//     Requests by one account less than WeakWindow apart form one alert.
//   - spread: one account asks for tickets to SpreadThreshold distinct user service accounts
//     within SpreadWindow, whatever the encryption (roasting that asks for AES tickets).
//     Requests with a weak type go to the weak alert, so an all-RC4 roast is one alert.
//
// The requester is the actor, the service account the target.
type Kerberoasting struct {
	// WeakEncryptionTypes are the TicketEncryptionType values treated as crackable (default
	// DES 0x1, 0x3 and RC4 0x17, 0x18).
	WeakEncryptionTypes map[uint64]string
	// WeakWindow groups weak requests by one account into one alert (default 10 minutes).
	WeakWindow time.Duration
	// SpreadThreshold is how many distinct user service accounts one account must ask
	// tickets for within SpreadWindow (default 5).
	SpreadThreshold int
	// SpreadWindow is the sliding window for SpreadThreshold (default 1 minute).
	SpreadWindow time.Duration
	// IgnoreServices are service account names (lower case, no domain) known to need RC4.
	IgnoreServices map[string]bool
	// MaxKeys bounds the requesters tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100).
	MaxEvidence int

	weak   *detection.Burst
	spread *detection.Burst
	recent *credAccessRecent
	cap    detection.EvidenceCap
}

// NewKerberoasting returns the detector with its defaults.
func NewKerberoasting() *Kerberoasting {
	return &Kerberoasting{
		WeakEncryptionTypes: maps.Clone(kerberoastWeakTypes),
		WeakWindow:          10 * time.Minute,
		SpreadThreshold:     5,
		SpreadWindow:        time.Minute,
		IgnoreServices:      map[string]bool{},
		MaxKeys:             10_000,
		MaxEvidence:         100,
	}
}

// Name implements detection.Detector.
func (d *Kerberoasting) Name() string { return "kerberoasting" }

var kerberoastKeys = []string{"TargetUserName", "TargetDomainName", "ServiceName", "ServiceSid", "TicketEncryptionType", "TicketOptions", "Status", "IpAddress", "IpPort"}

// Detect implements detection.Detector.
func (d *Kerberoasting) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4769 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	service := credAccessAccountOf(f["ServiceName"], f["TargetDomainName"], f["ServiceSid"])
	requester := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], "")
	if service.empty() || service.machine() || service.Sam == "krbtgt" || strings.Contains(service.Sam, "/") ||
		d.IgnoreServices[service.Sam] || requester.empty() || requester.key() == service.key() {
		return nil
	}
	etype, err := winevent.ParseHex(f["TicketEncryptionType"])
	if err != nil {
		return nil
	}
	if d.weak == nil {
		d.weak = &detection.Burst{Window: d.WeakWindow, Threshold: 1, MaxKeys: d.MaxKeys}
		d.spread = &detection.Burst{Window: d.SpreadWindow, Threshold: d.SpreadThreshold, MaxKeys: d.MaxKeys}
		d.recent = &credAccessRecent{Window: d.SpreadWindow, PerKey: 4 * d.SpreadThreshold, MaxKeys: d.MaxKeys}
	}
	t := ev.GetTime().AsTime()
	src := credAccessSource{IP: winevent.ClientAddress(f["IpAddress"])}
	_, weak := d.WeakEncryptionTypes[etype]
	etypeName := kerberoastTypeName(f["TicketEncryptionType"])
	item := credAccessItem{At: t, Attempt: credAccessAttempt{Account: service, Source: src}, Evidence: credAccessEvidence(ev,
		fmt.Sprintf("4769 %s requested a %s ticket for %s from %s", requester, etypeName, service.Sam, src), kerberoastKeys...)}
	spread := d.spread.Add(requester.key(), service.key(), t)
	items, _ := d.recent.observe(requester.key(), item, spread)
	var id, title, desc string
	first := t
	switch {
	case weak:
		ep := d.weak.Add(requester.key(), service.key(), t)
		id = entity.HashID(d.Name(), "weak", requester.key(), detection.EpisodeID(ep.Start))
		items = []credAccessItem{item}
		title = "Kerberoasting: " + etypeName + " service ticket for " + service.Sam
		desc = fmt.Sprintf("%s requested a service ticket for the user service account %s with %s encryption (%s) from %s at %s; such tickets are cracked offline for the account's password.",
			requester, service, etypeName, f["TicketEncryptionType"], src, ev.GetHost())
	case spread.Active:
		id = entity.HashID(d.Name(), "spread", requester.key(), detection.EpisodeID(spread.Start))
		first = items[0].At
		title = "Kerberoasting: service tickets for many service accounts"
		desc = fmt.Sprintf("%s requested service tickets for %d distinct user service accounts within %s from %s at %s; collecting tickets for many service accounts is how roasting tools work.",
			requester, spread.Distinct, d.SpreadWindow, src, ev.GetHost())
	default:
		return nil
	}
	evidence := credAccessCapped(&d.cap, id, items, d.MaxEvidence)
	a := credAccessAlert(id, d.Name(), title, desc, adjoinv1.Severity_SEVERITY_HIGH, "T1558.003", ev, first, evidence)
	refs := []*adjoinv1.EntityRef{requester.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref()}
	for _, it := range items {
		refs = append(refs, it.Attempt.Account.ref(adjoinv1.EntityRole_ENTITY_ROLE_TARGET))
	}
	a.Entities = credAccessEntities(append(refs, credAccessDC(ev))...)
	return []*adjoinv1.Alert{a}
}
