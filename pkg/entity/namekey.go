package entity

import (
	"cmp"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Prefixes of the name keys HostNameKey and UserNameKey make.
const (
	hostKeyPrefix = "host."
	userKeyPrefix = "user."
)

// HostNameKey is the key under which the endpoint side records a computer the directory could
// not resolve yet: "host.<folded name>". The badge service looks there too, so knowledge
// recorded before a directory sync is not lost.
func HostNameKey(name string) string {
	nb, fqdn := HostNames(name)
	if safe := keySafe(cmp.Or(fqdn, nb)); safe != "" {
		return hostKeyPrefix + safe
	}
	return ""
}

// UserNameKey is the key of an unresolved user: "user.<domain>/<sam>", folded.
func UserNameKey(domain, sam string) string {
	if sam == "" {
		return ""
	}
	return userKeyPrefix + keySafe(Fold(domain)) + "/" + keySafe(Fold(sam))
}

// NameKeyRef is the inverse of HostNameKey and UserNameKey: a reference to the name key was
// made from, to resolve through the directory (nil for a key that is neither). exact is false
// when the key may have lost characters on the way (a '_', which also stands for what a key
// may not hold, or a part bounded by its hash): another name may then give the same key, and
// the name in ref may not be the one it was made from.
func NameKeyRef(key string) (ref *adjoinv1.EntityRef, exact bool) {
	if part, ok := strings.CutPrefix(key, hostKeyPrefix); ok && part != "" {
		exact = len(part) <= natsx.MaxToken && !strings.Contains(part, "_")
		if strings.Contains(part, ".") {
			return &adjoinv1.EntityRef{DnsHostName: part}, exact
		}
		return &adjoinv1.EntityRef{NetbiosName: part}, exact
	}
	if part, ok := strings.CutPrefix(key, userKeyPrefix); ok {
		domain, sam, ok := strings.Cut(part, "/")
		if !ok || sam == "" {
			return nil, true
		}
		exact = len(domain) <= natsx.MaxToken && len(sam) <= natsx.MaxToken && !strings.Contains(part, "_")
		return &adjoinv1.EntityRef{SamAccountName: domain + `\` + sam}, exact
	}
	return nil, true
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

// keySafe makes one part of a name key: what a KV key may not hold becomes '_', and a part
// longer than natsx.MaxToken keeps a readable prefix and a hash (natsx.KeyPart), so that a
// hostile 5,000-character host name gives a short key, the same for the endpoint ingestor that
// writes it and the badge service that reads it.
func keySafe(s string) string { return natsx.KeyPart(s) }

// MaxKeyLen is the longest entity key any of Key, HostNameKey and UserNameKey returns: a
// user name key, "user.", two bounded parts (natsx.MaxToken+1 bytes each at most) and "/".
// A SID key is at most maxSIDLen (184), a GUID 36, a host name key 134.
const MaxKeyLen = len("user.") + 2*(natsx.MaxToken+1) + 1
