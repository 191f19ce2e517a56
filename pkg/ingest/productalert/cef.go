package productalert

import (
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
)

// cefProduct is a product whose CEF alerts are passed through.
type cefProduct struct {
	source string
	side   adjoinv1.Side
	// kindIDs: externalId names the kind of alert, not the alert. Defender for Identity and
	// ATA document it as "the event ID ... that corresponds to each type of alert" (2003 is
	// every account enumeration alert); the alert's own id ends its URL (cs1, labelled url).
	kindIDs bool
}

// cefProducts are keyed by "vendor|product" in lower case.
var cefProducts = map[string]cefProduct{
	"microsoft|azure atp":                           {SourceMDI, adjoinv1.Side_SIDE_IDENTITY, true},
	"microsoft|microsoft defender for identity":     {SourceMDI, adjoinv1.Side_SIDE_IDENTITY, true},
	"microsoft|defender for identity":               {SourceMDI, adjoinv1.Side_SIDE_IDENTITY, true},
	"microsoft|ata":                                 {SourceATA, adjoinv1.Side_SIDE_IDENTITY, true},
	"microsoft|microsoft advanced threat analytics": {SourceATA, adjoinv1.Side_SIDE_IDENTITY, true},
}

// FromCEF converts a CEF alert of a known identity product (Defender for Identity, which
// writes product "Azure ATP", and ATA). Other products, and Defender for Identity's sensor
// health alerts (signature ids ending in MonitoringAlert), give ErrUnsupported.
//
// The product alert id is externalId, except for products whose externalId names the kind of
// alert: there it is the id that ends the alert's URL (the custom string labelled url), and
// without one a hash of the alert's kind, start and entities, which an update of the alert
// keeps. The version is the latest of rt, end and start, in milliseconds (FromEvent also
// weighs the syslog header's time). CEF carries no triage state, so the status is NEW.
//
// Entities follow the CEF dictionary: suser (with suid and sntdom) is the actor, duser the
// target, shost/src the source host and dhost/dst the destination host; full key names
// (sourceUserName, ...) are read too. Defender for Identity may write a display name in suser;
// it is kept as the account name and simply does not resolve.
func FromCEF(e cef.Event) (*adjoinv1.Alert, error) {
	p, ok := cefProducts[strings.ToLower(strings.TrimSpace(e.Vendor)+"|"+strings.TrimSpace(e.Product))]
	if !ok {
		return nil, fmt.Errorf("%w: CEF vendor %q product %q", ErrUnsupported, e.Vendor, e.Product)
	}
	if p.kindIDs && strings.HasSuffix(e.SignatureID, "MonitoringAlert") {
		return nil, fmt.Errorf("%w: %s is a sensor health alert", ErrUnsupported, e.SignatureID)
	}
	productID := cefAlertID(e, p)
	if productID == "" {
		return nil, fmt.Errorf("%w: CEF alert without externalId", ErrInvalid)
	}
	first, _ := e.Time("start", "rt")
	last, _ := e.Time("end", "start", "rt")
	var updated time.Time
	for _, k := range []string{"rt", "end", "start"} {
		if t, ok := e.Time(k); ok && t.After(updated) {
			updated = t
		}
	}
	link, _ := e.Custom("url")
	fields := e.Fields()
	if link != "" {
		fields["link"] = link
	}
	a := &adjoinv1.Alert{
		Id:             entity.HashID(p.source, productID),
		Side:           p.side,
		Source:         p.source,
		ProductAlertId: productID,
		Title:          e.Name,
		Description:    ext(e, "msg", "message"),
		Detector:       p.source,
		Severity:       cefSeverity(e.Severity),
		Status:         adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity:  stampTime(first),
		LastActivity:   stampTime(last),
		Entities:       cefRefs(e),
		Evidence: []*adjoinv1.Evidence{{
			Kind:    EvidenceKind,
			Summary: cmpOr(ext(e, "msg", "message"), e.Name),
			Host:    ext(e, "dvchost", "deviceHostName"),
			Time:    stampTime(first),
			EventId: cmpOr(e.Ext["externalId"], e.SignatureID),
			Fields:  fields,
		}},
	}
	setUpdated(a, updated)
	return a, nil
}

// FromEvent converts a CEF event as intake stores it (format "cef", fields from cef.Fields)
// back into its product alert. Fields the syslog intake added (syslog.*) are not part of the
// CEF line; a syslog.time later than the CEF's own times makes the version, so a product that
// re-sends an updated alert with unchanged CEF times still gives a newer version.
func FromEvent(ev *adjoinv1.Event) (*adjoinv1.Alert, error) {
	if ev.GetFormat() != cef.Format {
		return nil, fmt.Errorf("%w: event format %q", ErrUnsupported, ev.GetFormat())
	}
	fields := maps.Clone(ev.GetFields())
	var sent time.Time
	for k, v := range fields {
		if !strings.HasPrefix(k, "syslog.") {
			continue
		}
		if k == "syslog.time" {
			sent, _ = time.Parse(time.RFC3339Nano, v)
		}
		delete(fields, k)
	}
	e, ok := cef.FromFields(fields)
	if !ok {
		return nil, fmt.Errorf("%w: CEF event without vendor and product fields", ErrInvalid)
	}
	a, err := FromCEF(e)
	if err != nil {
		return nil, err
	}
	if !sent.IsZero() && sent.After(a.GetUpdatedTime().AsTime()) {
		setUpdated(a, sent)
	}
	if proof := a.GetEvidence()[0]; proof.GetHost() == "" {
		proof.Host = ev.GetHost()
	}
	return a, nil
}

func setUpdated(a *adjoinv1.Alert, t time.Time) {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return
	}
	a.UpdatedTime, a.Version = timestamppb.New(t), t.UnixMilli()
}

// cefAlertID returns the product's id of the alert (see FromCEF).
func cefAlertID(e cef.Event, p cefProduct) string {
	if !p.kindIDs {
		return strings.TrimSpace(e.Ext["externalId"])
	}
	if link, ok := e.Custom("url"); ok {
		if id := lastIDSegment(link); id != "" {
			return id
		}
	}
	return "derived:" + entity.HashID(e.SignatureID, e.Ext["externalId"], e.Ext["start"],
		ext(e, "suser", "sourceUserName"), ext(e, "shost", "sourceHostName"), ext(e, "src", "sourceAddress"),
		ext(e, "duser", "destinationUserName"), ext(e, "dhost", "destinationHostName"))
}

// lastIDSegment returns the last path segment of link when it looks like an id: at least 8
// hexadecimal digits, dashes allowed (a GUID, a 24-digit ObjectId).
func lastIDSegment(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.TrimRight(u.Path, "/"), "/")
	id := strings.ToLower(segs[len(segs)-1])
	digits := 0
	for _, c := range id {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			digits++
		case c == '-':
		default:
			return ""
		}
	}
	if digits < 8 {
		return ""
	}
	return id
}

// cefSeverity maps CEF's 0-10 (0-3 low, 4-6 medium, 7-8 high, 9-10 very high) or its words;
// 0 is informational, and very high is high, adjoin's top.
func cefSeverity(s string) adjoinv1.Severity {
	s = strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil {
		switch {
		case n < 0 || n > 10:
			return adjoinv1.Severity_SEVERITY_UNSPECIFIED
		case n == 0:
			return adjoinv1.Severity_SEVERITY_INFORMATIONAL
		case n <= 3:
			return adjoinv1.Severity_SEVERITY_LOW
		case n <= 6:
			return adjoinv1.Severity_SEVERITY_MEDIUM
		}
		return adjoinv1.Severity_SEVERITY_HIGH
	}
	switch s {
	case "low":
		return adjoinv1.Severity_SEVERITY_LOW
	case "medium":
		return adjoinv1.Severity_SEVERITY_MEDIUM
	case "high", "very-high", "veryhigh", "very high":
		return adjoinv1.Severity_SEVERITY_HIGH
	}
	return adjoinv1.Severity_SEVERITY_UNSPECIFIED
}

// cefRefs references the users and hosts of a CEF alert.
func cefRefs(e cef.Event) []*adjoinv1.EntityRef {
	var refs []*adjoinv1.EntityRef
	for _, r := range []*adjoinv1.EntityRef{
		cefUser(ext(e, "suser", "sourceUserName"), ext(e, "sntdom", "sourceNtDomain"), ext(e, "suid", "sourceUserId"), adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		cefUser(ext(e, "duser", "destinationUserName"), ext(e, "dntdom", "destinationNtDomain"), ext(e, "duid", "destinationUserId"), adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		cefHost(ext(e, "shost", "sourceHostName"), e.Ext["shostfqdn"], ext(e, "src", "sourceAddress"), adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST),
		cefHost(ext(e, "dhost", "destinationHostName"), e.Ext["dhostfqdn"], ext(e, "dst", "destinationAddress"), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	} {
		if r != nil {
			refs = addRefs(refs, r)
		}
	}
	return refs
}

func cefUser(name, ntDomain, uid string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	name = strings.TrimSpace(name)
	domain, sam := entity.SplitAccount(name)
	if domain == "" {
		domain = entity.Fold(ntDomain)
	}
	sid := entity.NormalizeSID(uid)
	if sam == "-" {
		sam = ""
	}
	if isLocalSystem(sid, domain) || sam == "" && sid == "" {
		return nil
	}
	ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, Sid: sid, SamAccountName: sam, Domain: domain}
	if strings.Contains(name, "@") {
		ref.Upn = name
	}
	return ref
}

func cefHost(name, fqdn, addr string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: role, Ip: pickIP([]string{addr})}
	setHostName(ref, name)
	if fqdn = strings.TrimSuffix(strings.TrimSpace(fqdn), "."); strings.Contains(fqdn, ".") {
		ref.DnsHostName = fqdn
	}
	if isEmptyRef(ref) {
		return nil
	}
	return ref
}

// ext returns the first non-empty of the named extension fields.
func ext(e cef.Event, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(e.Ext[k]); v != "" {
			return v
		}
	}
	return ""
}

func stampTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
