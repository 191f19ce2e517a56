package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Kerberos encryption types as 4768/4769 write them in TicketEncryptionType.
const (
	opthAES128 = 0x11
	opthAES256 = 0x12
	opthRC4    = 0x17
	opthRC4Exp = 0x18
)

// OverpassTheHash raises an alert on a TGT issued with RC4 (4768 TicketEncryptionType 0x17)
// in a domain whose KDC otherwise issues AES tickets: what Rubeus asktgt /rc4, mimikatz
// sekurlsa::pth with Kerberos, or Impacket getTGT with an NT hash ask for, since the NT hash
// is the RC4 key. Modern Windows clients ask for AES first, so RC4 in an AES domain points to
// a tool holding only the hash.
//
// The rule needs no configuration: it learns from the events it sees whether a domain uses
// AES (any successful 4768 or 4769 with an AES ticket, for any account), keyed by the DNS
// domain of the domain controller that logged them. Before it has seen AES in a domain it stays
// silent, because a domain that still runs RC4 everywhere would make every TGT an alert. An
// account that itself got AES tickets before and now gets RC4 is a downgrade (high); otherwise
// the alert is medium.
//
// Requests without pre-authentication (PreAuthType 0) are left to the AS-REP roasting
// detector: there the attacker asks for RC4 to crack the reply, not to use the ticket.
type OverpassTheHash struct {
	// Episode is how long further RC4 TGTs for the same account from the same address stay in
	// the same alert (default 10 min).
	Episode time.Duration
	// MaxAccounts bounds the accounts remembered per domain as having used AES (default 50000).
	MaxAccounts int

	aes    map[string]map[string]bool // domain -> accounts seen with AES tickets
	bursts *detection.Burst
}

// NewOverpassTheHash returns the detector with its defaults.
func NewOverpassTheHash() *OverpassTheHash {
	return &OverpassTheHash{Episode: 10 * time.Minute, MaxAccounts: 50000}
}

// Name implements detection.Detector.
func (d *OverpassTheHash) Name() string { return "overpass-the-hash" }

// Detect implements detection.Detector.
func (d *OverpassTheHash) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if (ev.GetEventId() != 4768 && ev.GetEventId() != 4769) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	etype, err := winevent.ParseHex(f["TicketEncryptionType"])
	if err != nil {
		return nil
	}
	_, sam := entity.SplitAccount(f["TargetUserName"])
	domain := opthDomain(ev.GetHost(), f["TargetDomainName"])
	if sam == "" || domain == "" {
		return nil
	}
	if etype == opthAES128 || etype == opthAES256 {
		d.learnAES(domain, sam)
		return nil
	}
	if ev.GetEventId() != 4768 || (etype != opthRC4 && etype != opthRC4Exp) {
		return nil
	}
	if strings.TrimSpace(f["PreAuthType"]) == "0" || entity.NormalizeSID(f["TargetSid"]) == "S-1-0-0" || sam == "krbtgt" {
		return nil
	}
	accounts := d.aes[domain]
	downgrade := accounts[sam]
	others := len(accounts)
	if downgrade {
		others--
	}
	if !downgrade && others == 0 {
		return nil
	}
	ip := winevent.ClientAddress(f["IpAddress"])
	if d.bursts == nil {
		d.bursts = &detection.Burst{Window: d.Episode, Threshold: 1, MaxKeys: 10000}
	}
	t := ev.GetTime()
	ep := d.bursts.Add(domain+"|"+sam+"|"+ip, "tgt", t.AsTime())
	account := f["TargetDomainName"] + `\` + f["TargetUserName"]
	a := identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), domain, sam, ip, detection.EpisodeID(ep.Start)),
		Title:           "Overpass-the-hash: RC4 TGT requested in an AES domain",
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1550.003"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET)},
	}, t.AsTime())
	if ref := adjUser(f["TargetSid"], f["TargetUserName"], f["TargetDomainName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	from := "an unknown address"
	if ip != "" {
		from = ip
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: ip})
	}
	a.Description = "A TGT for " + account + " was issued by " + ev.GetHost() + " to " + from +
		" with RC4 encryption (" + f["TicketEncryptionType"] + "), while this domain issues AES tickets"
	if downgrade {
		a.Severity = adjoinv1.Severity_SEVERITY_HIGH
		a.Description += ", to this account too"
	}
	a.Description += ": the request was probably made with the account's NT hash (overpass-the-hash / pass-the-ticket)."
	a.Evidence = []*adjoinv1.Evidence{adjEvidence(ev, "4768 RC4 TGT for "+account+" to "+from,
		"TargetUserName", "TargetDomainName", "TargetSid", "TicketEncryptionType", "PreAuthType", "Status", "IpAddress", "TicketOptions")}
	return []*adjoinv1.Alert{a}
}

func (d *OverpassTheHash) learnAES(domain, sam string) {
	if d.aes == nil {
		d.aes = map[string]map[string]bool{}
	}
	accounts := d.aes[domain]
	if accounts == nil {
		accounts = map[string]bool{}
		d.aes[domain] = accounts
	}
	if len(accounts) >= d.MaxAccounts && d.MaxAccounts > 0 && !accounts[sam] {
		// Full: the domain's use of AES is established; forgetting one account only loses
		// the downgrade distinction for it.
		for k := range accounts {
			delete(accounts, k)
			break
		}
	}
	accounts[sam] = true
}

// opthDomain names the Kerberos realm of an event: the DNS domain of the DC that logged it
// (TargetDomainName is the realm in one event and the NetBIOS name in another), or the
// folded TargetDomainName when the host name is not qualified.
func opthDomain(host, targetDomain string) string {
	if _, fqdn := entity.HostNames(host); fqdn != "" {
		if i := strings.IndexByte(fqdn, '.'); i >= 0 {
			return fqdn[i+1:]
		}
	}
	return entity.Fold(targetDomain)
}
