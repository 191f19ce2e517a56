package directory

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Find resolves an API selector. It returns ErrInvalidSelector (wrapped, naming the problem)
// for an empty or malformed selector, and a Match with a nil Entity when nothing matched.
func (ix *Index) Find(sel *adjoinv1.EntitySelector) (Match, error) {
	ref := &adjoinv1.EntityRef{}
	switch s := sel.GetSelector().(type) {
	case *adjoinv1.EntitySelector_EntityKey:
		key := strings.TrimSpace(s.EntityKey)
		if key == "" {
			return Match{}, fmt.Errorf("%w: empty entity_key", ErrInvalidSelector)
		}
		e, _ := ix.Get(key)
		return Match{Entity: e, Value: key, Certainty: certaintyID, Tried: []string{"key:" + key}}, nil
	case *adjoinv1.EntitySelector_Sid:
		if !entity.IsSID(s.Sid) {
			return Match{}, fmt.Errorf("%w: sid %q is not of the form S-1-...", ErrInvalidSelector, s.Sid)
		}
		ref.Sid = s.Sid
	case *adjoinv1.EntitySelector_ObjectGuid:
		if !entity.IsGUID(s.ObjectGuid) {
			return Match{}, fmt.Errorf("%w: object_guid %q is not a GUID", ErrInvalidSelector, s.ObjectGuid)
		}
		ref.ObjectGuid = s.ObjectGuid
	case *adjoinv1.EntitySelector_DomainSam:
		domain, sam := entity.SplitAccount(s.DomainSam)
		if domain == "" || sam == "" || !strings.Contains(s.DomainSam, `\`) {
			return Match{}, fmt.Errorf(`%w: domain_sam %q is not of the form DOMAIN\name`, ErrInvalidSelector, s.DomainSam)
		}
		ref.SamAccountName = s.DomainSam
	case *adjoinv1.EntitySelector_Upn:
		if d, u := entity.SplitAccount(s.Upn); d == "" || u == "" || !strings.Contains(s.Upn, "@") {
			return Match{}, fmt.Errorf("%w: upn %q is not of the form name@domain", ErrInvalidSelector, s.Upn)
		}
		ref.Upn = s.Upn
	case *adjoinv1.EntitySelector_DnsHostName:
		if _, fqdn := entity.HostNames(s.DnsHostName); fqdn == "" {
			return Match{}, fmt.Errorf("%w: dns_host_name %q has no domain part", ErrInvalidSelector, s.DnsHostName)
		}
		ref.DnsHostName = s.DnsHostName
	case *adjoinv1.EntitySelector_NetbiosName:
		if nb, fqdn := entity.HostNames(s.NetbiosName); nb == "" || fqdn != "" {
			return Match{}, fmt.Errorf("%w: netbios_name %q is not a single label", ErrInvalidSelector, s.NetbiosName)
		}
		ref.NetbiosName = s.NetbiosName
	case *adjoinv1.EntitySelector_Query:
		return ix.findQuery(s.Query)
	default:
		return Match{}, fmt.Errorf("%w: no selector set", ErrInvalidSelector)
	}
	return ix.Resolve(ref), nil
}

// findQuery recognises a free-form name by its shape. A bare name is tried as a
// sAMAccountName first, then as a computer's NetBIOS name.
func (ix *Index) findQuery(q string) (Match, error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return Match{}, fmt.Errorf("%w: empty query", ErrInvalidSelector)
	case entity.IsSID(q):
		return ix.Resolve(&adjoinv1.EntityRef{Sid: q}), nil
	case entity.IsGUID(q):
		if e, ok := ix.Get(entity.NormalizeGUID(q)); ok {
			return Match{Entity: e, By: adjoinv1.MatchKey_MATCH_KEY_OBJECT_GUID, Value: q, Certainty: certaintyID}, nil
		}
		return ix.Resolve(&adjoinv1.EntityRef{ObjectGuid: q}), nil
	case strings.Contains(q, `\`):
		return ix.Find(&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: q}})
	case strings.Contains(q, "@"):
		return ix.Find(&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: q}})
	case strings.Contains(q, "."):
		return ix.Resolve(&adjoinv1.EntityRef{DnsHostName: q}), nil
	}
	m := ix.Resolve(&adjoinv1.EntityRef{SamAccountName: q})
	if m.Entity != nil {
		return m, nil
	}
	h := ix.Resolve(&adjoinv1.EntityRef{NetbiosName: q})
	h.Tried = append(m.Tried, h.Tried...)
	return h, nil
}
