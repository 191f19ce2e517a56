package productalert

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// graphUserRef references a Graph userAccount. Without an on-prem SID, an account that has
// an Azure AD id is a cloud identity: its account and domain names (often the UPN's halves)
// are left out so that they cannot be matched against on-prem accounts, and the correlator
// sees it as cloud-only.
func graphUserRef(u *graphAccount, role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	sid := entity.NormalizeSID(u.UserSid)
	if isLocalSystem(sid, u.DomainName) {
		return nil
	}
	ref := &adjoinv1.EntityRef{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role,
		Sid: sid, Upn: strings.TrimSpace(u.UserPrincipalName), AadObjectId: strings.TrimSpace(u.AzureADUserID),
	}
	if sid != "" || ref.AadObjectId == "" {
		domain, sam := entity.SplitAccount(u.AccountName)
		if domain == "" {
			domain = entity.Fold(u.DomainName)
		}
		ref.SamAccountName, ref.Domain = sam, domain
	}
	if isEmptyRef(ref) {
		return nil
	}
	return ref
}

// isLocalSystem reports the identities of the machine itself (SYSTEM, LOCAL SERVICE,
// NETWORK SERVICE), which are no directory users.
func isLocalSystem(sid, domain string) bool {
	switch sid {
	case "S-1-5-18", "S-1-5-19", "S-1-5-20":
		return true
	}
	return strings.EqualFold(strings.TrimSpace(domain), "NT AUTHORITY")
}

// userRole: a user acted upon (attacked, created, added to a group, edited) is a target;
// any other role (compromised, attacker, source, suspicious, none) is the actor.
func userRole(roles []string) adjoinv1.EntityRole {
	for _, r := range roles {
		switch strings.ToLower(r) {
		case "attacked", "destination", "created", "added", "edited", "scanned":
			return adjoinv1.EntityRole_ENTITY_ROLE_TARGET
		}
	}
	return adjoinv1.EntityRole_ENTITY_ROLE_ACTOR
}

// deviceRole: where the activity came from is the source host; what was attacked is, on the
// identity side, the target (typically the domain controller, as in adjoin's own detections)
// and on the endpoint side the destination host; a compromised device is where the activity
// was seen. Without a role an identity alert's device is taken as the source and an endpoint
// alert's as the device it was seen on.
func deviceRole(roles []string, side adjoinv1.Side) adjoinv1.EntityRole {
	for _, r := range roles {
		switch strings.ToLower(r) {
		case "source", "attacker":
			return adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST
		case "attacked", "destination", "scanned":
			if side == adjoinv1.Side_SIDE_IDENTITY {
				return adjoinv1.EntityRole_ENTITY_ROLE_TARGET
			}
			return adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST
		case "compromised":
			return adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST
		}
	}
	if side == adjoinv1.Side_SIDE_IDENTITY {
		return adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST
	}
	return adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST
}

// setHostName files a host name as an FQDN or a NetBIOS name.
func setHostName(ref *adjoinv1.EntityRef, name string) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" {
		return
	}
	if strings.Contains(name, ".") {
		ref.DnsHostName = name
	} else {
		ref.NetbiosName = name
	}
}

// pickIP returns the first address worth joining on: IPv4 before IPv6, never loopback,
// link-local or unspecified, with ::ffff: stripped.
func pickIP(addrs []string) string {
	var v6 string
	for _, s := range addrs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		if ip.Is4() {
			return ip.String()
		}
		if v6 == "" {
			v6 = ip.WithZone("").String()
		}
	}
	return v6
}

func isEmptyRef(r *adjoinv1.EntityRef) bool {
	return r.GetSid() == "" && r.GetObjectGuid() == "" && r.GetSamAccountName() == "" && r.GetUpn() == "" &&
		r.GetDnsHostName() == "" && r.GetNetbiosName() == "" && r.GetIp() == "" && r.GetAadObjectId() == "" &&
		r.GetAadDeviceId() == "" && r.GetEdrDeviceId() == "" && r.GetCloudVmId() == ""
}

// addRefs appends the references not already there.
func addRefs(refs []*adjoinv1.EntityRef, more ...*adjoinv1.EntityRef) []*adjoinv1.EntityRef {
	for _, r := range more {
		if !slices.ContainsFunc(refs, func(o *adjoinv1.EntityRef) bool { return sameRef(o, r) }) {
			refs = append(refs, r)
		}
	}
	return refs
}

func sameRef(a, b *adjoinv1.EntityRef) bool {
	return a.GetKind() == b.GetKind() && a.GetRole() == b.GetRole() && a.GetSid() == b.GetSid() &&
		a.GetSamAccountName() == b.GetSamAccountName() && a.GetDomain() == b.GetDomain() && a.GetUpn() == b.GetUpn() &&
		a.GetDnsHostName() == b.GetDnsHostName() && a.GetNetbiosName() == b.GetNetbiosName() && a.GetIp() == b.GetIp() &&
		a.GetAadObjectId() == b.GetAadObjectId() && a.GetAadDeviceId() == b.GetAadDeviceId() &&
		a.GetEdrDeviceId() == b.GetEdrDeviceId() && a.GetCloudVmId() == b.GetCloudVmId()
}
