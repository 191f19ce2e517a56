package detect

import (
	"github.com/adjoin/adjoin/pkg/entity"
)

// account is an account as an event names it: its sAMAccountName, domain and SID. The
// detectors' account types (credAccessAccount, reconAccount) embed it and differ in what
// they take for one account (key) and for a local identity (system).
type account struct {
	Sam, Domain, SID string
}

// accountSID normalises a SID field, dropping the null SID (S-1-0-0) that events write when
// they do not know the account's SID.
func accountSID(sid string) string {
	sid = entity.NormalizeSID(sid)
	if sid == "S-1-0-0" {
		return ""
	}
	return sid
}

// localSID reports the SIDs of the local identities (SYSTEM, LOCAL SERVICE, NETWORK SERVICE,
// ANONYMOUS LOGON), which are not directory accounts.
func localSID(sid string) bool {
	switch sid {
	case "S-1-5-18", "S-1-5-19", "S-1-5-20", "S-1-5-7":
		return true
	}
	return false
}

// empty reports an account field left blank or "-".
func (a account) empty() bool { return a.Sam == "" || a.Sam == "-" }

// machine reports a computer account.
func (a account) machine() bool { return entity.IsMachineAccount(a.Sam) }

// String names the account in descriptions: domain\sam, or sam alone.
func (a account) String() string {
	if a.Domain == "" {
		return a.Sam
	}
	return a.Domain + `\` + a.Sam
}
