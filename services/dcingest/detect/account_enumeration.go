package detect

import (
	"maps"
	"strconv"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Kerberos error codes (RFC 4120 7.5.9) in 4768/4771 Status that tell a client whether a name
// exists: unknown, or known but disabled/expired/locked. A wrong password (0x18) is left to
// password-spray.
var accountEnumKerberosFailures = map[uint64]string{
	0x6:  "KDC_ERR_C_PRINCIPAL_UNKNOWN",
	0x12: "KDC_ERR_CLIENT_REVOKED",
}

// NTSTATUS codes in 4776 Status that tell the same; STATUS_WRONG_PASSWORD (0xc000006a) is
// left to password-spray.
var accountEnumNTLMFailures = map[uint64]string{
	0xc0000064: "STATUS_NO_SUCH_USER",
	0xc0000072: "STATUS_ACCOUNT_DISABLED",
}

// AccountEnumeration raises an alert when one source address tries many distinct account
// names that turn out not to exist or to be disabled, within a short window: the trail
// Kerbrute userenum and similar tools leave on a DC. It counts Kerberos 4768 and 4771 with
// KDC_ERR_C_PRINCIPAL_UNKNOWN (0x6) or KDC_ERR_CLIENT_REVOKED (0x12), and NTLM 4776 with
// no-such-user or account-disabled. Wrong passwords on existing accounts are password
// spraying, another detector's; add 0x18 / 0xc000006a to the code sets to count them here too.
//
// Kerberos events carry the client address; 4776 only the client's NetBIOS name, so NTLM
// attempts are counted per workstation name. One alert per source and burst episode.
type AccountEnumeration struct {
	// Threshold is how many distinct accounts must fail from one source within Window
	// (default 10).
	Threshold int
	// Window is the sliding window of event time (default 60 s).
	Window time.Duration
	// MaxKeys bounds the sources tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 100).
	MaxEvidence int
	// KerberosFailures are the 4768/4771 Status codes counted, with their names (default
	// 0x6, 0x12).
	KerberosFailures map[uint64]string
	// NTLMFailures are the 4776 Status codes counted, with their names (default
	// 0xc0000064 no such user, 0xc0000072 disabled).
	NTLMFailures map[uint64]string

	burst       *detection.Burst
	evidenceCap detection.EvidenceCap
}

// NewAccountEnumeration returns the detector with its defaults.
func NewAccountEnumeration() *AccountEnumeration {
	return &AccountEnumeration{
		Threshold:        10,
		Window:           time.Minute,
		MaxKeys:          10_000,
		MaxEvidence:      100,
		KerberosFailures: maps.Clone(accountEnumKerberosFailures),
		NTLMFailures:     maps.Clone(accountEnumNTLMFailures),
	}
}

// Name implements detection.Detector.
func (d *AccountEnumeration) Name() string { return "account-enumeration" }

// Detect implements detection.Detector.
func (d *AccountEnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	var codes map[uint64]string
	var src reconSource
	var keys []string
	switch ev.GetEventId() {
	case 4768, 4771:
		codes = d.KerberosFailures
		src = reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
		keys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "ServiceName", "Status", "PreAuthType", "IpAddress", "IpPort"}
	case 4776:
		codes = d.NTLMFailures
		src = reconSource{Host: f["Workstation"]}
		keys = []string{"TargetUserName", "Workstation", "Status", "PackageName"}
	default:
		return nil
	}
	status, err := winevent.ParseHex(f["Status"])
	if err != nil {
		return nil
	}
	reason, failed := codes[status]
	if !failed {
		return nil
	}
	target := reconAccountOf(f["TargetUserName"], f["TargetDomainName"], f["TargetSid"])
	if target.empty() || src.key() == "" {
		return nil
	}
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: d.Threshold, MaxKeys: d.MaxKeys}
	}
	// Accounts are counted by sAMAccountName alone: 4768 writes a domain, 4771 does not.
	ep := d.burst.Add(src.key(), target.Sam, ev.GetTime().AsTime())
	if !ep.Active {
		return nil
	}
	id := entity.HashID(d.Name(), src.key(), detection.EpisodeID(ep.Start))
	desc := strconv.Itoa(ep.Distinct) + " distinct account names tried from " + src.String() + " against " + ev.GetHost() +
		" within " + d.Window.String() + " were unknown or disabled (Kerberos 4768/4771, NTLM 4776 failures), as account enumeration does."
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, reconEventID(ev)+" "+target.String()+" failed: "+reason, keys...)
	}
	a := reconAlert(id, d.Name(), "Account enumeration (many unknown or disabled account names from one source)", desc,
		adjoinv1.Severity_SEVERITY_MEDIUM, []string{"T1087.002"}, ev, evidence)
	a.Entities = detection.Refs(
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}
