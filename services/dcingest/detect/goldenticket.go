package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// AccountKnower answers whether the directory knows an account. haveDirectory is false when no
// directory is available (nothing synced yet, or none configured), in which case known means
// nothing.
type AccountKnower interface {
	KnowsAccount(domain, sam string) (known, haveDirectory bool)
}

// GoldenTicket raises an alert on the signs of a forged TGT (mimikatz kerberos::golden,
// Impacket ticketer), whose PAC names whatever user and RID the attacker chose:
//
//   - a service ticket (4769) for an account that got no TGT (4768) from that address within
//     TGTWindow, and whose TGT names the realm in lower case (a Windows KDC writes it upper
//     case; mimikatz and ticketer copy it as typed), or that the directory does not know. Without a directory only the missing
//     TGT is left, a weak sign (the TGT may come from another DC or before the detector
//     started), so it is reported low and only after WarmUp of observed time (without a pause
//     longer than MaxGap);
//   - a logon (4624 Kerberos) or share access (5140) by a domain account name the directory
//     does not know. Without a directory, only a RID-500 SID under a name other than
//     Administrator and other than the name the KDC gave that SID in a 4768 is reported, low
//     (mimikatz uses RID 500 by default; a renamed Administrator looks the same).
//
// Accounts of the host itself (local accounts, NT AUTHORITY) are never checked.
type GoldenTicket struct {
	// TGTWindow is how long a TGT seen from an address covers service tickets for the same
	// account from it (default 10 h, the default TGT lifetime).
	TGTWindow time.Duration
	// WarmUp is how much event time must have been observed before a missing TGT counts
	// without a directory (default 10 h, one TGT lifetime).
	WarmUp time.Duration
	// MaxGap is the longest pause between events (either way in time) that still counts as
	// observed; a longer one (an outage, another recording) starts the warm-up again, since
	// the TGTs issued in it were not seen (default 30 min).
	MaxGap time.Duration
	// Episode is how long further events of the same account from the same address stay in
	// one alert (default 1 h).
	Episode time.Duration
	// MaxTGTs bounds the remembered TGTs and RID-500 names (default 100000).
	MaxTGTs int

	dir      AccountKnower
	tgts     bounded.Map[string, time.Time] // account|ip -> last TGT
	names500 map[string]string              // RID-500 SID -> name in a 4768
	last     time.Time                      // latest event time seen
	observed time.Duration                  // event time seen without a gap longer than MaxGap
	bursts   *detection.Burst
}

// NewGoldenTicket returns the detector. dir (may be nil: no directory) tells which accounts
// exist.
func NewGoldenTicket(dir AccountKnower) *GoldenTicket {
	return &GoldenTicket{TGTWindow: 10 * time.Hour, WarmUp: 10 * time.Hour, MaxGap: 30 * time.Minute, Episode: time.Hour, MaxTGTs: 100000, dir: dir}
}

// Name implements detection.Detector.
func (d *GoldenTicket) Name() string { return "golden-ticket" }

// Detect implements detection.Detector.
func (d *GoldenTicket) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if !detection.IsSecurity(ev) {
		return nil
	}
	t := ev.GetTime().AsTime()
	d.observe(t)
	switch ev.GetEventId() {
	case 4768:
		d.observeTGT(ev)
	case 4769:
		return d.serviceTicket(ev)
	case 4624, 5140:
		return d.logon(ev)
	}
	return nil
}

// observe counts event time toward the warm-up: the time since the latest event, unless the
// pause is longer than MaxGap, which starts the count again.
func (d *GoldenTicket) observe(t time.Time) {
	gap := t.Sub(d.last)
	switch {
	case d.last.IsZero() || d.MaxGap > 0 && (gap > d.MaxGap || -gap > d.MaxGap):
		d.observed, d.last = 0, t
	case gap > 0:
		d.observed += gap
		d.last = t
	}
}

func (d *GoldenTicket) lookup(domain, sam string) (known, haveDirectory bool) {
	if d.dir == nil {
		return false, false
	}
	return d.dir.KnowsAccount(domain, sam)
}

func (d *GoldenTicket) observeTGT(ev *adjoinv1.Event) {
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return
	}
	_, sam := entity.SplitAccount(f["TargetUserName"])
	if sam == "" {
		return
	}
	key := sam + "|" + winevent.ClientAddress(f["IpAddress"])
	if d.names500 == nil {
		d.names500 = map[string]string{}
	}
	d.tgts.Max = d.MaxTGTs
	d.tgts.Put(key, ev.GetTime().AsTime())
	if sid := entity.NormalizeSID(f["TargetSid"]); strings.HasSuffix(sid, "-500") && (len(d.names500) < d.MaxTGTs || d.MaxTGTs <= 0) {
		d.names500[sid] = sam
	}
}

func (d *GoldenTicket) serviceTicket(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	realm, sam := entity.SplitAccount(f["TargetUserName"])
	ip := winevent.ClientAddress(f["IpAddress"])
	if sam == "" || ip == "" { // a DC asking for itself (::1) has no TGT exchange to miss
		return nil
	}
	if realm == "" {
		realm = entity.Fold(f["TargetDomainName"])
	}
	t := ev.GetTime().AsTime()
	if last, ok := d.tgts.Get(sam + "|" + ip); ok && t.Sub(last) <= d.TGTWindow && last.Sub(t) <= d.TGTWindow {
		return nil
	}
	known, haveDirectory := d.lookup(realm, sam)
	severity := adjoinv1.Severity_SEVERITY_HIGH
	why := "the directory does not know this account and no TGT was issued for it to " + ip
	switch raw := goldenRealm(f); {
	case raw != strings.ToUpper(raw):
		// A Windows KDC writes the client realm of the TGTs it issues upper case; a forged TGT
		// carries it as the attacker typed it (/domain:offsec.lan).
		severity = adjoinv1.Severity_SEVERITY_MEDIUM
		if haveDirectory && !known {
			severity = adjoinv1.Severity_SEVERITY_HIGH
		}
		why = "its TGT names the realm " + raw + " in lower case, which a Windows KDC never issues, and no TGT was issued for it to " + ip
	case haveDirectory && known:
		return nil
	case !haveDirectory:
		if d.observed < d.WarmUp {
			return nil
		}
		severity = adjoinv1.Severity_SEVERITY_LOW
		why = "no TGT was issued for this account to " + ip + " within " + d.TGTWindow.String() + " (no directory to check the account against)"
	}
	account := f["TargetUserName"]
	a := d.alert(ev, "tgs", sam, ip, severity, "Golden ticket: service ticket without a TGT")
	a.Description = "A service ticket for " + f["ServiceName"] + " was issued by " + ev.GetHost() + " to " + account + " at " + ip + ", but " + why + ": the TGT it presented was probably forged."
	if ref := adjUser("", sam, realm, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	a.Evidence = append(a.Evidence, adjEvidence(ev, "4769 "+account+" -> "+f["ServiceName"]+" from "+ip+" without a TGT",
		"TargetUserName", "TargetDomainName", "ServiceName", "IpAddress", "TicketEncryptionType", "TicketOptions", "Status"))
	return []*adjoinv1.Alert{a}
}

func (d *GoldenTicket) logon(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	if ev.GetEventId() == 4624 {
		if !strings.EqualFold(strings.TrimSpace(f["AuthenticationPackageName"]), "Kerberos") {
			return nil
		}
		user, domain, sid = f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"]
	}
	ref := adjUser(sid, user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
	if ref == nil || ref.GetSamAccountName() == "" || !strings.HasPrefix(ref.GetSid(), "S-1-5-21-") {
		return nil
	}
	if nb, _ := entity.HostNames(ev.GetHost()); ref.GetDomain() == "" || ref.GetDomain() == nb {
		return nil // an account of the host itself
	}
	sam := ref.GetSamAccountName()
	known, haveDirectory := d.lookup(ref.GetDomain(), sam)
	rid500 := strings.HasSuffix(ref.GetSid(), "-500")
	severity := adjoinv1.Severity_SEVERITY_HIGH
	why := "the directory does not know this account"
	switch {
	case haveDirectory && known:
		return nil
	case !haveDirectory:
		learned, ok := d.names500[ref.GetSid()]
		if !rid500 || sam == "administrator" || (ok && learned == sam) {
			return nil
		}
		severity = adjoinv1.Severity_SEVERITY_LOW
		why = "its SID is the built-in Administrator's (RID 500) under another name (no directory to check the account against)"
		if ok {
			why = "its SID is the built-in Administrator's (RID 500), which the KDC knows as " + learned
			severity = adjoinv1.Severity_SEVERITY_MEDIUM
		}
	case rid500:
		why += ", and its SID is the built-in Administrator's (RID 500), mimikatz's default"
	}
	ip := winevent.ClientAddress(f["IpAddress"])
	account := f["TargetDomainName"] + `\` + f["TargetUserName"]
	what := "logged on to " + ev.GetHost() + " with Kerberos"
	summary := "4624 " + f["TargetUserName"] + " Kerberos logon type " + f["LogonType"]
	keys := []string{"TargetUserName", "TargetDomainName", "TargetUserSid", "TargetLogonId", "LogonType", "LogonProcessName", "AuthenticationPackageName", "IpAddress"}
	if ev.GetEventId() == 5140 {
		account = f["SubjectDomainName"] + `\` + f["SubjectUserName"]
		what = "connected to " + f["ShareName"] + " on " + ev.GetHost()
		summary = "5140 " + f["SubjectUserName"] + " " + f["ShareName"]
		keys = []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ShareName", "IpAddress"}
	}
	a := d.alert(ev, "logon|"+rsvcHost(ev.GetHost())+"|"+ref.GetSid(), sam, ip, severity, "Golden ticket: logon by an account the domain does not have")
	a.Entities[0].Role = adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST
	a.Entities = append(a.Entities, ref)
	from := ""
	if ip != "" {
		from = " from " + ip
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	a.Description = account + " (" + ref.GetSid() + ") " + what + from + ", but " + why + ": the Kerberos ticket was probably forged."
	a.Evidence = append(a.Evidence, adjEvidence(ev, summary+from, keys...))
	return []*adjoinv1.Alert{a}
}

// goldenRealm is the client realm of a 4769 as written (TargetUserName after @, else
// TargetDomainName), when it is a DNS name; "" otherwise.
func goldenRealm(f map[string]string) string {
	realm := strings.TrimSpace(f["TargetDomainName"])
	if name := strings.TrimSpace(f["TargetUserName"]); strings.Contains(name, "@") {
		realm = name[strings.LastIndexByte(name, '@')+1:]
	}
	if !strings.Contains(realm, ".") {
		return ""
	}
	return realm
}

// alert starts an alert of one rule; events of the same account from the same address within
// Episode share it.
func (d *GoldenTicket) alert(ev *adjoinv1.Event, rule, sam, ip string, severity adjoinv1.Severity, title string) *adjoinv1.Alert {
	if d.bursts == nil {
		d.bursts = &detection.Burst{Window: d.Episode, Threshold: 1, MaxKeys: 10000}
	}
	t := ev.GetTime()
	ep := d.bursts.Add(rule+"|"+sam+"|"+ip, "event", t.AsTime())
	return identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), rule, sam, ip, detection.EpisodeID(ep.Start)),
		Title:           title,
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE,
		MitreTechniques: []string{"T1558.001"},
		Severity:        severity,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET)},
	}, t.AsTime())
}
