package entity

import (
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// HostNameKey is the key under which the endpoint side records a computer the directory could
// not resolve yet: "host.<folded name>". The badge service looks there too, so knowledge
// recorded before a directory sync is not lost.
func HostNameKey(name string) string {
	nb, fqdn := HostNames(name)
	if fqdn != "" {
		return "host." + keySafe(fqdn)
	}
	if nb == "" {
		return ""
	}
	return "host." + keySafe(nb)
}

// UserNameKey is the key of an unresolved user: "user.<domain>/<sam>", folded.
func UserNameKey(domain, sam string) string {
	if sam == "" {
		return ""
	}
	return "user." + keySafe(Fold(domain)) + "/" + keySafe(Fold(sam))
}

// NameKeys lists the name keys an entity's endpoint knowledge may have been recorded under
// before the directory knew it.
func NameKeys(e *adjoinv1.Entity) []string {
	var out []string
	add := func(k string) {
		if k != "" {
			out = append(out, k)
		}
	}
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		add(HostNameKey(e.GetDnsHostName()))
		nb := e.GetNetbiosName()
		if nb == "" {
			nb = e.GetSamAccountName()
		}
		add(HostNameKey(nb))
		return out
	}
	add(UserNameKey(e.GetNetbiosDomain(), e.GetSamAccountName()))
	add(UserNameKey(e.GetDnsDomain(), e.GetSamAccountName()))
	return out
}

// keySafe replaces what a KV key may not hold with '_'.
func keySafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), ".")
}
