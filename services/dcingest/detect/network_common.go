package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// Helpers of the network detectors that read one record at a time (the Zeek detectors added
// with the DC traffic sensor, and the wire-only ones). They share ZeekEpisodes with the first
// Zeek detectors: copies from several sensors fold into one alert, records of one key less
// than Window apart make one alert.

// zeekClientRef is the account a record names in its "client" column, which the DC traffic
// sensor fills from the Kerberos ticket or NTLM message that authenticated the connection
// ("pgustavo@THESHIRE.LOCAL", `THESHIRE\pgustavo`) and Zeek's kerberos.log from the request
// ("pgustavo/THESHIRE.LOCAL"); nil when the column is empty or names a computer account.
func zeekClientRef(r zeekRecord, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	client := strings.TrimSpace(r.f["client"])
	var sam, domain string
	if d, s, ok := strings.Cut(client, `\`); ok {
		sam, domain = strings.ToLower(s), strings.ToLower(d)
	} else {
		sam, domain = zeek.SplitPrincipal(client)
	}
	if sam == "" || strings.HasSuffix(sam, "$") || strings.Contains(sam, "/") {
		return nil
	}
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, SamAccountName: sam, Domain: domain}
}

// zeekFinding is what a network detector found in one record.
type zeekFinding struct {
	// key groups records into one alert with the addresses (a client account, a service).
	key string
	// subject tells this record from others of the same connection, for copies.
	subject     string
	title, desc string
	severity    adjoinv1.Severity
	phase       adjoinv1.KillChainPhase
	mitre       []string
	user        *adjoinv1.EntityRef
	// summary and keys make the record's evidence.
	summary string
	keys    []string
}

// raise turns a finding into its alert: one per source, target, key and episode, once
// threshold distinct values (value) were seen within window.
func (z *ZeekEpisodes) raise(name string, r zeekRecord, f zeekFinding, window time.Duration, threshold int, value string) []*adjoinv1.Alert {
	z.start(window, threshold)
	if first, isCopy := z.copies.copyOf(r, f.subject); isCopy {
		return first.alerts()
	}
	ep := z.burst.Add(r.origH+"|"+r.respH+"|"+f.key, value, r.t)
	if !ep.Active {
		z.copies.remember(r, f.subject, nil)
		return nil
	}
	a := &adjoinv1.Alert{
		Id:              entity.HashID(name, r.origH, r.respH, f.key, detection.EpisodeID(ep.Start)),
		Title:           f.title,
		Detector:        name,
		Description:     f.desc,
		KillChainPhase:  f.phase,
		MitreTechniques: f.mitre,
		Severity:        f.severity,
		Entities:        detection.Refs(f.user, r.sourceRef(), r.targetRef()),
	}
	a = z.finish(a, r, f.subject, func() *adjoinv1.Evidence { return r.evidence(f.summary, f.keys...) })
	return []*adjoinv1.Alert{a}
}

// zeekSource names where a record came from, for descriptions.
func zeekSource(r zeekRecord) string {
	if r.ev.GetFormat() == "wire" {
		return "seen by the DC traffic sensor"
	}
	return "seen by Zeek"
}

// zeekWho is the client account for a description, or "".
func zeekWho(r zeekRecord) string {
	if c := strings.TrimSpace(r.f["client"]); c != "" {
		return " as " + c
	}
	return ""
}
