package sambaaudit

import (
	"strconv"
	"strings"
)

// ntStatus holds the NTSTATUS codes Samba's audit events name, by the name nt_errstr gives
// them; the codes are Windows' (ntstatus.h).
var ntStatus = map[string]uint32{
	"NT_STATUS_OK":                                0x00000000,
	"NT_STATUS_LOGON_FAILURE":                     0xc000006d,
	"NT_STATUS_WRONG_PASSWORD":                    0xc000006a,
	"NT_STATUS_NO_SUCH_USER":                      0xc0000064,
	"NT_STATUS_ACCOUNT_RESTRICTION":               0xc000006e,
	"NT_STATUS_INVALID_LOGON_HOURS":               0xc000006f,
	"NT_STATUS_INVALID_WORKSTATION":               0xc0000070,
	"NT_STATUS_PASSWORD_EXPIRED":                  0xc0000071,
	"NT_STATUS_ACCOUNT_DISABLED":                  0xc0000072,
	"NT_STATUS_ACCOUNT_EXPIRED":                   0xc0000193,
	"NT_STATUS_PASSWORD_MUST_CHANGE":              0xc0000224,
	"NT_STATUS_ACCOUNT_LOCKED_OUT":                0xc0000234,
	"NT_STATUS_TIME_DIFFERENCE_AT_DC":             0xc0000133,
	"NT_STATUS_NO_LOGON_SERVERS":                  0xc000005e,
	"NT_STATUS_NO_SUCH_DOMAIN":                    0xc00000df,
	"NT_STATUS_ACCESS_DENIED":                     0xc0000022,
	"NT_STATUS_INVALID_PARAMETER":                 0xc000000d,
	"NT_STATUS_NOT_FOUND":                         0xc0000225,
	"NT_STATUS_INTERNAL_ERROR":                    0xc00000e5,
	"NT_STATUS_NO_MEMORY":                         0xc0000017,
	"NT_STATUS_NOT_SUPPORTED":                     0xc00000bb,
	"NT_STATUS_INVALID_ACCOUNT_NAME":              0xc0000062,
	"NT_STATUS_NO_TRUST_SAM_ACCOUNT":              0xc000018b,
	"NT_STATUS_DOWNGRADE_DETECTED":                0xc0000388,
	"NT_STATUS_AUTHENTICATION_FIREWALL_FAILED":    0xc0000413,
	"NT_STATUS_NETWORK_CREDENTIAL_CONFLICT":       0xc00000c3,
	"NT_STATUS_INVALID_SERVER_STATE":              0xc00000dc,
	"NT_STATUS_UNSUCCESSFUL":                      0xc0000001,
	"NT_STATUS_NOT_IMPLEMENTED":                   0xc0000002,
	"NT_STATUS_INVALID_HANDLE":                    0xc0000008,
	"NT_STATUS_IO_TIMEOUT":                        0xc00000b5,
	"NT_STATUS_USER_SESSION_DELETED":              0xc0000203,
	"NT_STATUS_TRUSTED_DOMAIN_FAILURE":            0xc000018c,
	"NT_STATUS_NOLOGON_WORKSTATION_TRUST_ACCOUNT": 0xc0000199,
	"NT_STATUS_NOLOGON_SERVER_TRUST_ACCOUNT":      0xc000019a,
	"NT_STATUS_NOLOGON_INTERDOMAIN_TRUST_ACCOUNT": 0xc0000198,
}

// statusCode returns the NTSTATUS of a name as Samba writes it: a known NT_STATUS_ name, or
// nt_errstr's "NT code 0x..." for a code without a name.
func statusCode(name string) (uint32, bool) {
	name = strings.TrimSpace(name)
	if c, ok := ntStatus[strings.ToUpper(name)]; ok {
		return c, true
	}
	if hex, ok := strings.CutPrefix(name, "NT code "); ok {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(hex), "0x"), 16, 32)
		return uint32(n), err == nil
	}
	return 0, false
}

// hex writes a status as Windows events do: "0x0", "0xc000006a".
func hex(c uint32) string { return "0x" + strconv.FormatUint(uint64(c), 16) }

// logonStatus returns the Status and SubStatus a Windows 4625 gives a failure: the logon
// failure and account restriction families carry the precise code in SubStatus, the rest
// stand alone with SubStatus 0x0.
func logonStatus(c uint32) (status, sub uint32) {
	switch c {
	case 0xc000006a, 0xc0000064: // wrong password, no such user
		return 0xc000006d, c
	case 0xc000006f, 0xc0000070, 0xc0000071, 0xc0000072, 0xc0000193, 0xc0000224: // account restrictions
		return 0xc000006e, c
	}
	return c, 0
}

// Kerberos result codes (RFC 4120 7.5.9) as 4768/4771 write them in Status.
const (
	krbOK             = 0x0
	krbUnknown        = 0x6  // KDC_ERR_C_PRINCIPAL_UNKNOWN
	krbPolicy         = 0xc  // KDC_ERR_POLICY
	krbRevoked        = 0x12 // KDC_ERR_CLIENT_REVOKED
	krbKeyExpired     = 0x17 // KDC_ERR_KEY_EXPIRED
	krbPreauthFailed  = 0x18 // KDC_ERR_PREAUTH_FAILED
	krbSkew           = 0x25 // KRB_AP_ERR_SKEW
	eventTGT          = 4768 // a TGT was requested
	eventPreauthError = 4771 // Kerberos pre-authentication failed
)

// kerberosResult maps the NTSTATUS of a Samba KDC event onto the Windows KDC event and Kerberos
// code a Windows DC logs for the same outcome; ok is false for an outcome without one, which
// is then logged as a 4768 without a Status.
func kerberosResult(c uint32) (eventID int32, code uint32, ok bool) {
	switch c {
	case 0:
		return eventTGT, krbOK, true
	case 0xc000006a: // wrong password
		return eventPreauthError, krbPreauthFailed, true
	case 0xc0000133: // clock skew
		return eventPreauthError, krbSkew, true
	case 0xc0000064: // no such user
		return eventTGT, krbUnknown, true
	case 0xc0000072, 0xc0000234, 0xc0000193, 0xc000006f: // disabled, locked out, expired, logon hours
		return eventTGT, krbRevoked, true
	case 0xc0000071, 0xc0000224: // password expired, must change
		return eventTGT, krbKeyExpired, true
	case 0xc000006e, 0xc0000070: // account restriction, workstation
		return eventTGT, krbPolicy, true
	}
	return eventTGT, 0, false
}
