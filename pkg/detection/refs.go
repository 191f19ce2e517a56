package detection

import (
	"path"
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// HostRef references a computer by the host name an event carries (FQDN or NetBIOS).
func HostRef(host string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	ref := &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: role}
	if nb, fqdn := entity.HostNames(host); fqdn != "" {
		ref.DnsHostName = host
	} else {
		ref.NetbiosName = nb
	}
	return ref
}

// UserRef references a user written DOMAIN\name or name@domain. It returns nil for local
// system identities (NT AUTHORITY\SYSTEM and the like), which are not directory users.
func UserRef(account string, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	domain, sam := entity.SplitAccount(account)
	switch {
	case sam == "", sam == "-", domain == "nt authority", domain == "window manager", domain == "font driver host":
		return nil
	}
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, SamAccountName: sam, Domain: domain}
}

// Pick copies the named fields that are present, for evidence.
func Pick(f map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if v, ok := f[k]; ok {
			out[k] = v
		}
	}
	return out
}

// BaseName is the lower-case file name of a Windows path.
func BaseName(p string) string {
	return strings.ToLower(path.Base(strings.ReplaceAll(p, `\`, "/")))
}

// IsSysmon reports whether ev comes from the Sysmon channel, whatever its case.
func IsSysmon(ev *adjoinv1.Event) bool {
	return strings.EqualFold(ev.GetChannel(), "Microsoft-Windows-Sysmon/Operational")
}

// IsSecurity reports whether ev comes from the Security channel, whatever its case.
func IsSecurity(ev *adjoinv1.Event) bool { return strings.EqualFold(ev.GetChannel(), "Security") }
