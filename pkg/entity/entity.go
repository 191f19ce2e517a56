package entity

import (
	"regexp"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// guidPattern is a GUID as NormalizeGUID returns it.
var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Key returns the stable key of e: its objectGUID where known, else its SID. Both forms are
// valid NATS subject tokens and KV keys.
func Key(e *adjoinv1.Entity) string {
	if g := NormalizeGUID(e.GetObjectGuid()); g != "" {
		return g
	}
	return NormalizeSID(e.GetSid())
}

// maxSIDLen is the longest SID: "S-1-", 15 digits, 15 × "-" and 10 digits. Longer input is
// refused before it is parsed.
const maxSIDLen = 4 + 15 + 15*11

// NormalizeSID returns s upper-cased as S-1-..., or "" when s is not a SID (including one
// whose authority or sub-authorities do not fit their 48 and 32 bits).
//
// A SID is what Windows writes: revision 1, a decimal identifier authority (48 bits, so at
// most 15 digits) and 1 to 15 sub-authorities of 32 bits (at most 10 digits; MS-DTYP 2.4.2,
// SID_MAX_SUB_AUTHORITIES). The bound matters: a SID becomes an entity key, a KV key and a
// subject token, and an unbounded one could exceed the NATS control line. It is parsed by
// hand, without a regular expression or a split, because every GetBadge by SID and every
// alert reference goes through it; the result is that of upper-casing s (strings.ToUpper) and
// matching `^S-1-\d{1,15}(-\d{1,10}){1,15}$` with the bit bounds, on every input.
func NormalizeSID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxSIDLen {
		return ""
	}
	var rest string
	switch {
	case strings.HasPrefix(s, "S"), strings.HasPrefix(s, "s"):
		rest = s[1:]
	case strings.HasPrefix(s, "\u017f"): // ſ, which strings.ToUpper makes S
		rest = s[len("\u017f"):]
	default:
		return ""
	}
	if !sidTail(rest) {
		return ""
	}
	if s[0] == 'S' {
		return s // already upper case: no copy
	}
	return "S" + rest
}

// sidTail reports whether t is "-1-", an authority of 1-15 digits below 2^48, then 1-15
// sub-authorities of "-" and 1-10 digits below 2^32.
func sidTail(t string) bool {
	if !strings.HasPrefix(t, "-1-") {
		return false
	}
	groups := 0
	for i := len("-1-"); ; {
		most, limit := 10, uint64(1)<<32
		if groups == 0 {
			most, limit = 15, 1<<48
		}
		j, v := i, uint64(0)
		for ; j < len(t) && '0' <= t[j] && t[j] <= '9'; j++ {
			if j-i == most {
				return false
			}
			v = v*10 + uint64(t[j]-'0')
		}
		if j == i || v >= limit {
			return false
		}
		if groups++; j == len(t) {
			return groups >= 2
		}
		if t[j] != '-' || groups == 16 {
			return false
		}
		i = j + 1
	}
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
