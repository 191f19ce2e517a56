package directory

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Find resolves an API selector. It returns ErrInvalidSelector (wrapped, naming the problem)
// for an empty or malformed selector, and a Match with a nil Entity when nothing matched.
func (ix *Index) Find(sel *adjoinv1.EntitySelector) (Match, error) { return ix.find(sel, true) }

// FindKey is Find without building the entity: Match.Key names what matched and
// Match.Entity stays nil. It is what a caller that needs only the key (a cache keyed by it)
// asks, at the cost of a lookup and no allocation for a SID or GUID selector.
func (ix *Index) FindKey(sel *adjoinv1.EntitySelector) (Match, error) { return ix.find(sel, false) }

// find is Find, building the entity matched or (build false) only giving its key.
func (ix *Index) find(sel *adjoinv1.EntitySelector, build bool) (Match, error) {
	ref := &adjoinv1.EntityRef{}
	switch s := sel.GetSelector().(type) {
	case *adjoinv1.EntitySelector_EntityKey:
		key := strings.TrimSpace(s.EntityKey)
		if key == "" {
			return Match{}, fmt.Errorf("%w: empty entity_key", ErrInvalidSelector)
		}
		m := ix.byKey(key, build)
		m.Value, m.Certainty, m.Tried = key, certaintyID, []string{"key:" + key}
		return m, nil
	case *adjoinv1.EntitySelector_Sid:
		if !entity.IsSID(s.Sid) {
			return Match{}, fmt.Errorf("%w: sid %q is not a SID (S-1-<revision>-<authority>-<sub-authorities>)", ErrInvalidSelector, s.Sid)
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
		return ix.findQuery(s.Query, build)
	default:
		return Match{}, fmt.Errorf("%w: no selector set", ErrInvalidSelector)
	}
	return ix.resolve(ref, build), nil
}

// findQuery recognises a free-form name by its shape (a distinguished name by its "="). A bare name is tried as a
// sAMAccountName first, then as a computer's NetBIOS name.
func (ix *Index) findQuery(q string, build bool) (Match, error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return Match{}, fmt.Errorf("%w: empty query", ErrInvalidSelector)
	case entity.IsSID(q):
		return ix.resolve(&adjoinv1.EntityRef{Sid: q}, build), nil
	case strings.Contains(q, "="): // only a distinguished name has one
		return ix.byDN(q, build), nil
	case entity.IsGUID(q):
		if m := ix.byKey(entity.NormalizeGUID(q), build); m.Key != "" {
			m.By, m.Value, m.Certainty = adjoinv1.MatchKey_MATCH_KEY_OBJECT_GUID, q, certaintyID
			return m, nil
		}
		return ix.resolve(&adjoinv1.EntityRef{ObjectGuid: q}, build), nil
	case strings.Contains(q, `\`):
		return ix.find(&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: q}}, build)
	case strings.Contains(q, "@"):
		return ix.find(&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: q}}, build)
	case strings.Contains(q, "."):
		return ix.resolve(&adjoinv1.EntityRef{DnsHostName: q}, build), nil
	}
	m := ix.resolve(&adjoinv1.EntityRef{SamAccountName: q}, build)
	if m.Key != "" {
		return m, nil
	}
	h := ix.resolve(&adjoinv1.EntityRef{NetbiosName: q}, build)
	h.Tried = append(m.Tried, h.Tried...)
	return h, nil
}

// byKey is the Match of the entity with key (Key "" when there is none), built or not.
func (ix *Index) byKey(key string, build bool) Match {
	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var m Match
	if i, ok := ix.lookupKey(key); ok {
		ix.found(&m, i, build, key)
	}
	return m
}
