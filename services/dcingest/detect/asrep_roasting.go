package detect

import (
	"fmt"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// ASREPRoasting raises an alert when the DC issues a TGT without pre-authentication
// (T1558.004): a successful 4768 with PreAuthType 0. That only happens for accounts with
// "Do not require Kerberos preauthentication" set, and the AS-REP it returns is encrypted with
// the account's password key, so whoever asked can crack it offline without knowing anything.
// Rubeus asreproast, GetNPUsers and Kerbrute all leave this trace; RC4 (0x17) replies crack
// fastest and are named in the description.
//
// Tickets handed to one source less than Window apart form one alert. An account that
// legitimately logs on without pre-authentication fires too: that setting is itself the
// exposure. List such accounts in IgnoreAccounts once accepted.
type ASREPRoasting struct {
	// Window groups no-pre-authentication tickets to one source into one alert (default 10
	// minutes).
	Window time.Duration
	// IgnoreAccounts are account names (lower case, no domain) whose no-pre-authentication
	// logons are accepted.
	IgnoreAccounts map[string]bool
	// MaxKeys bounds the sources tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100).
	MaxEvidence int

	burst *detection.Burst
	cap   detection.EvidenceCap
}

// NewASREPRoasting returns the detector with its defaults.
func NewASREPRoasting() *ASREPRoasting {
	return &ASREPRoasting{
		Window:         10 * time.Minute,
		IgnoreAccounts: map[string]bool{},
		MaxKeys:        10_000,
		MaxEvidence:    100,
	}
}

// Name implements detection.Detector.
func (d *ASREPRoasting) Name() string { return "asrep-roasting" }

// Detect implements detection.Detector.
func (d *ASREPRoasting) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4768 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	if pre, err := winevent.ParseHex(f["PreAuthType"]); err != nil || pre != 0 {
		return nil
	}
	target := credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetSid"])
	if target.empty() || target.system() || d.IgnoreAccounts[target.Sam] {
		return nil
	}
	src := credAccessSource{IP: winevent.ClientAddress(f["IpAddress"])}
	key := src.key()
	if key == "" {
		key = "account:" + target.key()
	}
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: 1, MaxKeys: d.MaxKeys}
	}
	ep := d.burst.Add(key, target.key(), ev.GetTime().AsTime())
	id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
	etype := kerberoastTypeName(f["TicketEncryptionType"])
	var evidence []*adjoinv1.Evidence
	if d.cap.Take(id, 1, d.MaxEvidence) == 1 {
		evidence = append(evidence, credAccessEvidence(ev,
			fmt.Sprintf("4768 TGT for %s without pre-authentication (%s) to %s", target, etype, src),
			"TargetUserName", "TargetDomainName", "TargetSid", "ServiceName", "Status", "PreAuthType", "TicketEncryptionType", "TicketOptions", "IpAddress", "IpPort"))
	}
	desc := fmt.Sprintf("%s issued a TGT for %s without Kerberos pre-authentication (PreAuthType 0, %s) to %s; the reply is encrypted with the account's password key and can be cracked offline.",
		ev.GetHost(), target, etype, src)
	a := credAccessAlert(id, d.Name(), "AS-REP roasting: TGT without pre-authentication for "+target.Sam, desc,
		adjoinv1.Severity_SEVERITY_HIGH, "T1558.004", ev, time.Time{}, evidence)
	a.Entities = credAccessEntities(
		target.ref(adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		src.ref(),
		credAccessDC(ev),
	)
	return []*adjoinv1.Alert{a}
}
