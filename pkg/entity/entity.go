package entity

import (
	"regexp"
	"strconv"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

var (
	// sidPattern is a SID as Windows writes it: revision 1, a decimal identifier authority (48
	// bits, so at most 15 digits) and 1 to 15 sub-authorities of 32 bits (at most 10 digits;
	// MS-DTYP 2.4.2, SID_MAX_SUB_AUTHORITIES). The bound matters: a SID becomes an entity key,
	// a KV key and a subject token, and an unbounded one could exceed the NATS control line.
	sidPattern  = regexp.MustCompile(`^S-1-\d{1,15}(-\d{1,10}){1,15}$`)
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

// maxSIDLen is the longest string sidPattern can match: "S-1-", 15 digits, 15 × "-" and 10
// digits. Longer input is refused before it is upper-cased or matched.
const maxSIDLen = 4 + 15 + 15*11

// NormalizeSID returns s upper-cased as S-1-..., or "" when s is not a SID (including one
// whose authority or sub-authorities do not fit their 48 and 32 bits).
func NormalizeSID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxSIDLen {
		return ""
	}
	s = strings.ToUpper(s)
	if !sidPattern.MatchString(s) {
		return ""
	}
	parts := strings.Split(s, "-")
	if _, err := strconv.ParseUint(parts[2], 10, 48); err != nil {
		return ""
	}
	for _, p := range parts[3:] {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return ""
		}
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
