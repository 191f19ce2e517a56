package detect

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// credAccessAttempt is one authentication attempt as the spray and brute-force detectors see
// it.
type credAccessAttempt struct {
	Failed  bool
	Account credAccessAccount
	Source  credAccessSource
	// Caller is the user whose process asked for the logon (4625 Subject), when it is one.
	Caller credAccessAccount
	// Result names the outcome for summaries: "0x18", "0xc000006a".
	Result string
	keys   []string
}

// Status codes the attempt classification needs.
const (
	credAccessNoSuchUser      = 0xc0000064 // NTLM/logon: the name does not exist
	credAccessKerberosUnknown = 0x6        // KDC_ERR_C_PRINCIPAL_UNKNOWN
)

// credAccessAttemptOf classifies an authentication event:
//   - 4768 TGT request: a failure when Status is in kerberosFailures, a success when Status
//     is 0 and the client proved its password (PreAuthType not 0).
//   - 4771 Kerberos pre-authentication failure: a failure when Status is in kerberosFailures.
//   - 4776 NTLM validation on the DC: Status 0 is a success, anything else a failure.
//   - 4625 failed logon on any host: a failure, except batch and service logons (types 4
//     and 5), which retry a stored password.
//   - 4624 network, cleartext-network and remote-interactive logons: a success.
//
// Attempts against names that do not exist (Kerberos 0x6, NTLM 0xC0000064) are left out:
// they guess names, not passwords, and account-enumeration covers them.
func credAccessAttemptOf(ev *adjoinv1.Event, kerberosFailures map[uint64]bool) (credAccessAttempt, bool) {
	if !detection.IsSecurity(ev) {
		return credAccessAttempt{}, false
	}
	f := ev.GetFields()
	at := credAccessAttempt{Result: entity.Fold(f["Status"])}
	status, err := winevent.ParseHex(f["Status"])
	switch ev.GetEventId() {
	case 4768, 4771:
		if err != nil {
			return at, false
		}
		at.Source = credAccessSource{IP: winevent.ClientAddress(f["IpAddress"])}
		at.keys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "ServiceName", "Status", "PreAuthType", "IpAddress", "IpPort"}
		switch {
		case kerberosFailures[status] && status != credAccessKerberosUnknown:
			at.Failed = true
		case ev.GetEventId() == 4768 && status == 0:
			if pre, err := winevent.ParseHex(f["PreAuthType"]); err != nil || pre == 0 {
				return at, false
			}
		default:
			return at, false
		}
	case 4776:
		if err != nil || status == credAccessNoSuchUser {
			return at, false
		}
		at.Failed = status != 0
		at.Source = credAccessSource{Host: f["Workstation"]}
		at.keys = []string{"TargetUserName", "Workstation", "Status", "PackageName"}
	case 4625:
		sub, _ := winevent.ParseHex(f["SubStatus"])
		if status == credAccessNoSuchUser || sub == credAccessNoSuchUser {
			return at, false
		}
		if lt := strings.TrimSpace(f["LogonType"]); lt == "4" || lt == "5" {
			// Batch and service logons use a stored password: a stale one retried, not a guess.
			return at, false
		}
		at.Failed = true
		if sub != 0 {
			at.Result = entity.Fold(f["SubStatus"])
		}
		at.Source = credAccessSource{IP: winevent.ClientAddress(f["IpAddress"]), Host: f["WorkstationName"]}
		at.Caller = credAccessAccountOf(f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"])
		at.keys = []string{"TargetUserName", "TargetDomainName", "SubjectUserName", "SubjectDomainName", "SubjectUserSid",
			"LogonType", "Status", "SubStatus", "IpAddress", "WorkstationName", "ProcessName", "AuthenticationPackageName"}
	case 4624:
		switch strings.TrimSpace(f["LogonType"]) {
		case "3", "8", "10":
		default:
			return at, false
		}
		at.Result = "logon type " + strings.TrimSpace(f["LogonType"])
		at.Source = credAccessSource{IP: winevent.ClientAddress(f["IpAddress"]), Host: f["WorkstationName"]}
		if at.Source.IP == "" {
			return at, false
		}
		at.keys = []string{"TargetUserName", "TargetDomainName", "TargetUserSid", "LogonType", "IpAddress", "WorkstationName", "AuthenticationPackageName"}
	default:
		return at, false
	}
	sid := f["TargetSid"]
	if ev.GetEventId() == 4624 {
		sid = f["TargetUserSid"]
	}
	at.Account = credAccessAccountOf(f["TargetUserName"], f["TargetDomainName"], sid)
	if at.Failed && at.Source.key() == "" {
		// A loopback or placeholder address and no workstation name: the host that logged
		// the failure is where it came from ("this DC"), not nowhere.
		at.Source = credAccessSource{Host: ev.GetHost(), Local: true}
	}
	if at.Account.empty() || at.Account.system() || at.Source.key() == "" {
		return at, false
	}
	if at.Caller.empty() || at.Caller.system() || at.Caller.machine() {
		at.Caller = credAccessAccount{}
	}
	return at, true
}

// credAccessFailureCodes are the Kerberos result codes (4768/4771 Status) counted as failed
// password attempts: KDC_ERR_CLIENT_REVOKED (the account exists but is disabled, locked or
// expired) and KDC_ERR_PREAUTH_FAILED (wrong password).
func credAccessFailureCodes() map[uint64]bool { return map[uint64]bool{0x12: true, 0x18: true} }
