package adapters

import (
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// GroupSource gives the incident grouper the directory.
type GroupSource struct {
	Index *directory.Index
}

var _ domain.Source = GroupSource{}

// Entity implements domain.Source.
func (g GroupSource) Entity(key string) (*adjoinv1.Entity, bool) { return g.Index.Get(key) }

// HostKey implements domain.Source.
func (g GroupSource) HostKey(host string) (string, bool) {
	m := g.Index.Resolve(&adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: host, NetbiosName: host})
	if m.Entity == nil {
		return "", false
	}
	return m.Entity.GetKey(), true
}

// UserKey implements domain.Source.
func (g GroupSource) UserKey(domainName, sam, sid string) (string, bool) {
	m := g.Index.Resolve(&adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid, SamAccountName: sam, Domain: domainName})
	if m.Entity == nil || m.Entity.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER {
		return "", false
	}
	return m.Entity.GetKey(), true
}
