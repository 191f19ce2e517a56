package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Zerologon raises an alert on the traces of CVE-2020-1472 (mimikatz lsadump::zerologon,
// the public exploit scripts), which authenticate to Netlogon with an all-zero credential and
// then set a computer account's password, usually the DC's own:
//
//   - Security 4742 (a computer account was changed) whose subject is ANONYMOUS LOGON
//     (S-1-5-7) and whose PasswordLastSet changed. A machine sets its own password as itself
//     or as SYSTEM, an administrator as a user; never anonymously.
//   - System (NETLOGON) 5827 and 5828: the DC, in enforcement mode, denied a vulnerable
//     Netlogon secure channel from a machine or trust account; 5829: it allowed one
//     (compatibility mode, or an allow-listed account), low unless the account is a DC's.
//   - System (NETLOGON) 5805 (a session setup failed to authenticate) repeated at least
//     FailureThreshold times within Window for one computer name: the exploit's retries.
//
// One alert per DC and target account per episode (events less than Window apart): an old
// device that keeps logging 5829 stays one alert.
type Zerologon struct {
	// Episodes group the events of one attack, per account; Window also bounds the 5805
	// count (default 5 min).
	Episodes
	// FailureThreshold is how many 5805 for one computer make an attempt (default 10).
	FailureThreshold int

	dir      DomainControllers
	failures *detection.Burst
}

// NewZerologon returns the detector with its defaults. dir (may be nil) tells which computer
// accounts are domain controllers, for the severity.
func NewZerologon(dir DomainControllers) *Zerologon {
	return &Zerologon{Episodes: episodesOf(5 * time.Minute), FailureThreshold: 10, dir: dir}
}

// Name implements detection.Detector.
func (d *Zerologon) Name() string { return "zerologon" }

// Detect implements detection.Detector.
func (d *Zerologon) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	switch ev.GetEventId() {
	case 4742:
		if detection.IsSecurity(ev) {
			return d.anonymousChange(ev)
		}
	case 5805, 5827, 5828, 5829:
		if strings.EqualFold(ev.GetChannel(), "System") {
			return d.netlogon(ev)
		}
	}
	return nil
}

func (d *Zerologon) anonymousChange(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	if strings.TrimSpace(f["SubjectUserSid"]) != "S-1-5-7" && !strings.EqualFold(strings.TrimSpace(f["SubjectUserName"]), "ANONYMOUS LOGON") {
		return nil
	}
	if domDash(f["PasswordLastSet"]) {
		return nil
	}
	target := domTarget(f)
	if target.empty() {
		return nil
	}
	what := "4742: ANONYMOUS LOGON changed the password of " + target.String() + " (PasswordLastSet " + f["PasswordLastSet"] + ")"
	return d.alert(ev, target, what, "TargetUserName", "TargetDomainName", "TargetSid", "SubjectUserSid", "SubjectUserName",
		"SubjectDomainName", "SubjectLogonId", "PasswordLastSet")
}

func (d *Zerologon) netlogon(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	name := zerologonMachine(f)
	if name == "" {
		return nil
	}
	account := reconAccountOf(name, f["Domain"], "")
	if !account.machine() && ev.GetEventId() != 5828 {
		account.Sam += "$" // 5805 names the computer, not its account
	}
	what := reconEventID(ev) + " NETLOGON denied a vulnerable secure channel from " + account.String()
	if ev.GetEventId() == 5829 {
		what = "5829 NETLOGON allowed a vulnerable secure channel from " + account.String()
	}
	if ev.GetEventId() == 5805 {
		if d.failures == nil {
			d.failures = &detection.Burst{Window: d.Window, Threshold: d.FailureThreshold, MaxKeys: d.MaxKeys}
		}
		ep := d.failures.Add(rsvcHost(ev.GetHost())+"|"+account.key(), strconv.FormatInt(ev.GetRecordId(), 10)+"|"+ev.GetTime().AsTime().String(), ev.GetTime().AsTime())
		if !ep.Active {
			return nil
		}
		what = "5805 NETLOGON session setups from " + account.String() + " failed to authenticate " + strconv.Itoa(ep.Distinct) + " times within " + d.Window.String()
	}
	return d.alert(ev, account, what)
}

func (d *Zerologon) alert(ev *adjoinv1.Event, target reconAccount, what string, keys ...string) []*adjoinv1.Alert {
	host := rsvcHost(ev.GetHost())
	key := host + "|" + target.Sam // NETLOGON events name no domain
	id := entity.HashID(d.Name(), key, d.episode(key, ev.GetTime().AsTime()))
	severity := adjoinv1.Severity_SEVERITY_MEDIUM
	switch {
	case ev.GetEventId() == 4742 || domIsDCAccount(d.dir, ev.GetHost(), target.Domain, target.Sam):
		severity = adjoinv1.Severity_SEVERITY_HIGH
	case ev.GetEventId() == 5829:
		severity = adjoinv1.Severity_SEVERITY_LOW
	}
	if len(keys) == 0 {
		keys = []string{"AccountName", "Domain", "AccountType", "param1", "param2", "Message"}
	}
	desc := "Zerologon (CVE-2020-1472) against " + ev.GetHost() + ": " + what + ". Whoever did it can set the account's password and replicate every secret of the domain."
	a := domAlert(id, d.Name(), "Zerologon (Netlogon CVE-2020-1472) against a domain controller", desc, severity,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE, []string{"T1210"}, ev, adjEvidence(ev, what, keys...),
		domRef(target, adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// zerologonMachine reads the computer a NETLOGON event names: the named field where the
// export kept the template's names (NXLog's AccountName is dropped at intake, it names the
// logging service elsewhere), else the first insertion string, else the message text
// ("Machine SamAccountName: X", "from the computer X failed").
func zerologonMachine(f map[string]string) string {
	for _, k := range []string{"AccountName", "MachineSamAccountName", "param1"} {
		if v := strings.TrimSpace(f[k]); !domDash(v) {
			return v
		}
	}
	if v := domInsertion(f, 0); !domDash(v) {
		return v
	}
	msg := f["Message"]
	for _, marker := range []string{"Machine SamAccountName:", "Trust Name:", "from the computer "} {
		if i := strings.Index(msg, marker); i >= 0 {
			if fields := strings.Fields(msg[i+len(marker):]); len(fields) > 0 {
				return strings.TrimRight(fields[0], ".,")
			}
		}
	}
	return ""
}
