package adapters

import (
	"cmp"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// DCLookup answers detect.DomainControllers, detect.AccountKnower and detect.AccountsByDN from
// the directory index.
type DCLookup struct {
	Index *directory.Index
}

// IsDomainController reports whether domain\sam is a domain controller's machine account.
func (d DCLookup) IsDomainController(domain, sam string) (isDC, known bool) {
	m := d.Index.Resolve(&adjoinv1.EntityRef{SamAccountName: sam, Domain: domain})
	if m.Entity == nil {
		return false, false
	}
	return entity.IsDomainController(m.Entity), true
}

// KnowsAccount answers detect.AccountKnower from the directory index: haveDirectory is false
// while the directory is empty, and for a domain none of its entities belongs to (a trusted
// forest it does not sync, another lab's logs), so detectors do not take every account of it
// for unknown.
func (d DCLookup) KnowsAccount(domain, sam string) (known, haveDirectory bool) {
	if d.Index.Len() == 0 || (domain != "" && !d.Index.KnowsDomain(domain)) {
		return false, false
	}
	return d.Index.Resolve(&adjoinv1.EntityRef{SamAccountName: sam, Domain: domain}).Entity != nil, true
}

// AccountByDN answers detect.AccountsByDN from the directory index.
func (d DCLookup) AccountByDN(dn string) (sid string, ok bool) {
	e, ok := d.Index.ByDN(dn)
	if !ok || e.GetSid() == "" {
		return "", false
	}
	return e.GetSid(), true
}

// PrivilegedName answers detect.PrivilegedAccounts from the directory index.
func (d DCLookup) PrivilegedName(ref *adjoinv1.EntityRef) (string, bool) {
	e := d.Index.Resolve(ref).Entity
	if e == nil || !e.GetPrivileged() {
		return "", false
	}
	if e.GetNetbiosDomain() != "" && e.GetSamAccountName() != "" {
		return e.GetNetbiosDomain() + `\` + e.GetSamAccountName(), true
	}
	return cmp.Or(e.GetSamAccountName(), e.GetSid(), e.GetKey()), true
}
