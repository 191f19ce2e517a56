package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// WireKerberosPreauthFailures raises an alert on bursts of KRB-ERROR
// KDC_ERR_PREAUTH_FAILED (a wrong password in the encrypted timestamp) seen on the wire: one
// account failing AccountThreshold times within Window is a brute force (T1110.001), one
// source failing as SourceThreshold distinct accounts is a spray (T1110.003). The DC logs
// these as 4771 only when Kerberos auditing of failures is on; the wire always shows them.
// It reads Zeek's kerberos.log too (error_msg).
type WireKerberosPreauthFailures struct {
	// AccountThreshold failures of one account within Window (default 10).
	AccountThreshold int
	// SourceThreshold distinct accounts failing from one address within Window (default 5).
	SourceThreshold int
	// Window is the sliding window of event time (default 1 min).
	Window time.Duration
	// MaxKeys bounds the accounts and sources tracked (default 10 000).
	MaxKeys int

	account, source *detection.Burst
	evCap           detection.EvidenceCap
}

// NewWireKerberosPreauthFailures returns the detector with its defaults.
func NewWireKerberosPreauthFailures() *WireKerberosPreauthFailures {
	return &WireKerberosPreauthFailures{AccountThreshold: 10, SourceThreshold: 5, Window: time.Minute, MaxKeys: zeekDefaultMaxKeys}
}

// Name implements detection.Detector.
func (d *WireKerberosPreauthFailures) Name() string { return "wire-kerberos-preauth-failures" }

// Detect implements detection.Detector.
func (d *WireKerberosPreauthFailures) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "kerberos")
	if !ok || r.f["error_msg"] != "KDC_ERR_PREAUTH_FAILED" {
		return nil
	}
	sam, realm := zeek.SplitPrincipal(r.f["client"])
	if sam == "" {
		return nil
	}
	if d.account == nil {
		d.account = &detection.Burst{Window: zeekOr(d.Window, time.Minute), Threshold: zeekOr(d.AccountThreshold, 10), MaxKeys: zeekOr(d.MaxKeys, zeekDefaultMaxKeys)}
		d.source = &detection.Burst{Window: zeekOr(d.Window, time.Minute), Threshold: zeekOr(d.SourceThreshold, 5), MaxKeys: zeekOr(d.MaxKeys, zeekDefaultMaxKeys)}
	}
	who := realm + `\` + sam
	attempt := r.uid + "|" + r.origP + "|" + r.t.Format(time.RFC3339Nano)
	user := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, SamAccountName: sam, Domain: realm}
	var out []*adjoinv1.Alert
	if ep := d.account.Add(who, attempt, r.t); ep.Active {
		out = append(out, d.alert(r, entity.HashID(d.Name(), "account", who, detection.EpisodeID(ep.Start)),
			"Kerberos pre-authentication brute force on one account (network)",
			who+" failed Kerberos pre-authentication "+strconv.Itoa(ep.Distinct)+" times within "+d.account.Window.String()+
				" (KRB-ERROR KDC_ERR_PREAUTH_FAILED, latest from "+r.origH+" to "+r.respH+").",
			"T1110.001", user, r.sourceRef()))
	}
	if ep := d.source.Add(r.origH, who, r.t); ep.Active {
		out = append(out, d.alert(r, entity.HashID(d.Name(), "source", r.origH, detection.EpisodeID(ep.Start)),
			"Kerberos password spray from one source (network)",
			r.origH+" failed Kerberos pre-authentication as "+strconv.Itoa(ep.Distinct)+" distinct accounts within "+
				d.source.Window.String()+" (KRB-ERROR KDC_ERR_PREAUTH_FAILED to "+r.respH+"), latest "+who+".",
			"T1110.003", user, r.sourceRef()))
	}
	return out
}

func (d *WireKerberosPreauthFailures) alert(r zeekRecord, id, title, desc, mitre string, refs ...*adjoinv1.EntityRef) *adjoinv1.Alert {
	a := identityAlert(&adjoinv1.Alert{
		Id: id, Title: title, Detector: d.Name(), Description: desc,
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{mitre}, Severity: adjoinv1.Severity_SEVERITY_HIGH,
		Entities: detection.Refs(append(refs, r.targetRef())...),
	}, r.t)
	d.evCap.MaxIDs = zeekOr(d.MaxKeys, zeekDefaultMaxKeys)
	if d.evCap.TakeOne(id, 100) {
		a.Evidence = []*adjoinv1.Evidence{r.evidence("kerberos "+strings.ToUpper(r.f["request_type"])+" "+r.f["client"]+" "+r.f["error_msg"],
			"request_type", "client", "service", "error_msg", "req_etypes")}
	}
	return a
}
