package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// SAMAccountNameSpoofing raises an alert on the steps of CVE-2021-42278/42287 (noPac,
// sam-the-admin): a computer account is renamed to a domain controller's name without the
// trailing `$`, a TGT is requested under that name, and the KDC, no longer finding it, issues
// tickets as the DC. Sources:
//
//   - Security 4781 (an account was renamed) from a name ending in `$` to one without;
//   - Security 4741/4742 (computer account created/changed) whose SamAccountName has no `$`;
//   - Security 4768 (TGT) and 4769 (service ticket) requested for a DC's name without `$`:
//     no real account should hold it.
//
// A name is a DC's when it is that of the DC that logged the event or the directory (may be
// nil) knows NAME$ as a DC. A rename or creation without `$` that matches no DC is still
// raised, at medium severity: it is the first step, before the attacker's TGT. One alert per
// spoofed name and episode (events less than Window apart).
type SAMAccountNameSpoofing struct {
	// Episodes group the steps of one attack, per name (default Window 10 min).
	Episodes

	dir DomainControllers
}

// NewSAMAccountNameSpoofing returns the detector with its defaults.
func NewSAMAccountNameSpoofing(dir DomainControllers) *SAMAccountNameSpoofing {
	return &SAMAccountNameSpoofing{Episodes: episodesOf(10 * time.Minute), dir: dir}
}

// Name implements detection.Detector.
func (d *SAMAccountNameSpoofing) Name() string { return "samaccountname-spoofing" }

// Detect implements detection.Detector.
func (d *SAMAccountNameSpoofing) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	id := ev.GetEventId()
	if (id != 4781 && id != 4741 && id != 4742 && id != 4768 && id != 4769) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	var name, what, domain string
	var keys []string
	switch id {
	case 4781:
		old, renamed := strings.TrimSpace(f["OldTargetUserName"]), strings.TrimSpace(f["NewTargetUserName"])
		if !entity.IsMachineAccount(old) || entity.IsMachineAccount(renamed) || domDash(renamed) {
			return nil
		}
		name, domain = renamed, f["TargetDomainName"]
		what = "4781 computer account " + old + " renamed to " + renamed + " (no trailing $)"
		keys = []string{"OldTargetUserName", "NewTargetUserName", "TargetDomainName", "TargetSid", "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId"}
	case 4741, 4742:
		sam := strings.TrimSpace(f["SamAccountName"])
		if domDash(sam) || entity.IsMachineAccount(sam) || strings.HasPrefix(sam, "%%") {
			return nil
		}
		name, domain = sam, f["TargetDomainName"]
		what = reconEventID(ev) + " computer account " + f["TargetUserName"] + " given the sAMAccountName " + sam + " (no trailing $)"
		keys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "SamAccountName", "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId"}
	default:
		acct := reconAccountOf(f["TargetUserName"], f["TargetDomainName"], "")
		if acct.empty() || acct.machine() || !d.isDCName(ev.GetHost(), acct.Domain, acct.Sam) {
			return nil
		}
		if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
			return nil // a failed request issued nothing
		}
		name, domain = acct.Sam, acct.Domain
		what = reconEventID(ev) + " ticket requested for " + acct.Sam + ", a domain controller's name without $, service " + f["ServiceName"]
		keys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "ServiceName", "IpAddress", "Status", "TicketEncryptionType"}
	}
	dcName := d.isDCName(ev.GetHost(), entity.Fold(domain), name)
	key := entity.Fold(name)
	alertID := entity.HashID(d.Name(), key, d.episode(key, ev.GetTime().AsTime()))
	severity := adjoinv1.Severity_SEVERITY_MEDIUM
	if dcName {
		severity = adjoinv1.Severity_SEVERITY_HIGH
	}
	desc := "sAMAccountName spoofing (noPac, CVE-2021-42278/42287) on " + ev.GetHost() + ": " + what + "."
	if dcName {
		desc += " The name is a domain controller's: a TGT under it lets the KDC issue tickets as the DC."
	}
	src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
	actor := reconSubject(f)
	actorRef := domActor(actor)
	dc := reconAccountOf(name+"$", domain, "")
	a := domAlert(alertID, d.Name(), "sAMAccountName spoofing of a domain controller (noPac)", desc, severity,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION, []string{"T1068", "T1078.002"}, ev,
		adjEvidence(ev, what, keys...),
		actorRef, domRef(dc, adjoinv1.EntityRole_ENTITY_ROLE_TARGET), src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// isDCName reports whether name (without $) is a domain controller's.
func (d *SAMAccountNameSpoofing) isDCName(host, domain, name string) bool {
	return domIsDCAccount(d.dir, host, domain, strings.TrimSpace(name)+"$")
}
