package adapters

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// uacServerTrustAccount is the userAccountControl bit of a domain controller's account.
const uacServerTrustAccount = 0x2000

// DCLookup answers detect.DomainControllers from the directory index.
type DCLookup struct {
	Index *directory.Index
}

// IsDomainController reports whether domain\sam is a domain controller's machine account:
// its userAccountControl, its place in OU=Domain Controllers, or membership of Domain
// Controllers says so.
func (d DCLookup) IsDomainController(domain, sam string) (isDC, known bool) {
	m := d.Index.Resolve(&adjoinv1.EntityRef{SamAccountName: sam, Domain: domain})
	if m.Entity == nil {
		return false, false
	}
	if m.Entity.GetUserAccountControl()&uacServerTrustAccount != 0 {
		return true, true
	}
	if strings.Contains(strings.ToLower(m.Entity.GetDistinguishedName()), ",ou=domain controllers,") {
		return true, true
	}
	for _, g := range m.Entity.GetMemberOf() {
		if strings.HasPrefix(strings.ToLower(g), "cn=domain controllers,") {
			return true, true
		}
	}
	return false, true
}
