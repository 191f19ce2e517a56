package entity

import (
	"regexp"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

var (
	sidPattern  = regexp.MustCompile(`^S-1-\d+(-\d+)+$`)
	guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Key returns the stable key of e: its objectGUID where known, else its SID. Both forms are
// valid NATS subject tokens and KV keys.
func Key(e *adjoinv1.Entity) string {
	if g := NormalizeGUID(e.GetObjectGuid()); g != "" {
		return g
	}
	return NormalizeSID(e.GetSid())
}

// NormalizeSID returns s upper-cased as S-1-..., or "" when s is not a SID.
func NormalizeSID(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !sidPattern.MatchString(s) {
		return ""
	}
	return s
}

// NormalizeGUID returns s lower-cased without braces, or "" when s is not a GUID.
func NormalizeGUID(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}"))
	if !guidPattern.MatchString(s) {
		return ""
	}
	return s
}

// IsSID reports whether s is a SID in string form.
func IsSID(s string) bool { return NormalizeSID(s) != "" }

// IsGUID reports whether s is a GUID in string form, with or without braces.
func IsGUID(s string) bool { return NormalizeGUID(s) != "" }

// Fold lower-cases and trims a name for comparison.
func Fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// SplitAccount splits "DOMAIN\sam" or "sam@realm" into a folded domain and sam. A bare name
// returns an empty domain.
func SplitAccount(s string) (domain, sam string) {
	s = Fold(s)
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		return s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:], s[:i]
	}
	return "", s
}

// DomainSAM returns the normalised "domain\sam" form used by the directory index, with the
// NetBIOS domain name.
func DomainSAM(netbiosDomain, sam string) string {
	if sam == "" {
		return ""
	}
	return Fold(netbiosDomain) + `\` + Fold(sam)
}

// HostNames returns the folded NetBIOS name and FQDN of a host name, which may be either.
// "WORKSTATION5.theshire.local" gives ("workstation5", "workstation5.theshire.local");
// "WORKSTATION5" gives ("workstation5", ""). A trailing $ (machine account) is dropped.
func HostNames(name string) (netbios, fqdn string) {
	name = strings.TrimSuffix(Fold(name), "$")
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", ""
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i], name
	}
	return name, ""
}

// IsMachineAccount reports whether a sAMAccountName names a computer account.
func IsMachineAccount(sam string) bool { return strings.HasSuffix(strings.TrimSpace(sam), "$") }

// uacServerTrustAccount is the userAccountControl bit of a domain controller's account.
const uacServerTrustAccount = 0x2000

// IsDomainController reports whether e is a domain controller's computer account: its
// userAccountControl, its place in OU=Domain Controllers, or membership of Domain Controllers
// says so.
func IsDomainController(e *adjoinv1.Entity) bool {
	if e.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		return false
	}
	if e.GetUserAccountControl()&uacServerTrustAccount != 0 {
		return true
	}
	if strings.Contains(strings.ToLower(e.GetDistinguishedName()), ",ou=domain controllers,") {
		return true
	}
	for _, g := range e.GetMemberOf() {
		if strings.HasPrefix(strings.ToLower(g), "cn=domain controllers,") {
			return true
		}
	}
	return false
}
