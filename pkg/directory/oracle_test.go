package directory

import (
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// mapIndex is the directory index as it was before the compact one: maps of proto messages
// and names. Tests run both on the same input to show that resolution did not change.
type mapIndex struct {
	byKey   map[string]*adjoinv1.Entity
	names   map[nameKind]map[string]string
	bareSAM map[string]map[string]struct{}
}

func newMapIndex() *mapIndex {
	ix := &mapIndex{byKey: map[string]*adjoinv1.Entity{}, names: map[nameKind]map[string]string{}, bareSAM: map[string]map[string]struct{}{}}
	for k := nameSID; k <= nameDN; k++ {
		ix.names[k] = map[string]string{}
	}
	return ix
}

func (ix *mapIndex) Put(e *adjoinv1.Entity) {
	key := entity.Key(e)
	if key == "" {
		return
	}
	e = proto.Clone(e).(*adjoinv1.Entity)
	e.Key = key
	if old, ok := ix.byKey[key]; ok {
		ix.unindex(key, old)
	}
	ix.byKey[key] = e
	for kind, names := range oracleNamesOf(e) {
		for _, n := range names {
			ix.names[kind][n] = key
		}
	}
	if sam := entity.Fold(e.GetSamAccountName()); sam != "" {
		if ix.bareSAM[sam] == nil {
			ix.bareSAM[sam] = map[string]struct{}{}
		}
		ix.bareSAM[sam][key] = struct{}{}
	}
}

func (ix *mapIndex) Delete(key string) {
	if old, ok := ix.byKey[key]; ok {
		ix.unindex(key, old)
		delete(ix.byKey, key)
	}
}

func (ix *mapIndex) unindex(key string, e *adjoinv1.Entity) {
	for kind, names := range oracleNamesOf(e) {
		for _, n := range names {
			if ix.names[kind][n] == key {
				delete(ix.names[kind], n)
			}
		}
	}
	if sam := entity.Fold(e.GetSamAccountName()); sam != "" {
		delete(ix.bareSAM[sam], key)
		if len(ix.bareSAM[sam]) == 0 {
			delete(ix.bareSAM, sam)
		}
	}
}

func oracleNamesOf(e *adjoinv1.Entity) map[nameKind][]string {
	out := map[nameKind][]string{}
	add := func(k nameKind, v string) {
		if v != "" {
			out[k] = append(out[k], v)
		}
	}
	add(nameSID, entity.NormalizeSID(e.GetSid()))
	add(nameGUID, entity.NormalizeGUID(e.GetObjectGuid()))
	if sam := e.GetSamAccountName(); sam != "" {
		if d := e.GetNetbiosDomain(); d != "" {
			add(nameDomainSAM, entity.DomainSAM(d, sam))
		}
		if d := e.GetDnsDomain(); d != "" {
			add(nameDomainSAM, entity.DomainSAM(d, sam))
		}
	}
	add(nameUPN, entity.Fold(e.GetUpn()))
	add(nameDN, NormalizeDN(e.GetDistinguishedName()))
	if e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		nb, fqdn := entity.HostNames(e.GetDnsHostName())
		add(nameFQDN, fqdn)
		if n, _ := entity.HostNames(e.GetNetbiosName()); n != "" {
			nb = n
		}
		if nb == "" {
			nb, _ = entity.HostNames(e.GetSamAccountName())
		}
		add(nameNetBIOS, nb)
	}
	return out
}

// Resolve is the resolution of the map index, unchanged.
func (ix *mapIndex) Resolve(ref *adjoinv1.EntityRef) Match {
	var cands []candidate
	add := func(kind nameKind, label, value string, by adjoinv1.MatchKey, c float64) {
		if value != "" {
			cands = append(cands, candidate{kind, label, value, by, c})
		}
	}
	add(nameSID, "sid", entity.NormalizeSID(ref.GetSid()), adjoinv1.MatchKey_MATCH_KEY_SID, certaintyID)
	add(nameGUID, "guid", entity.NormalizeGUID(ref.GetObjectGuid()), adjoinv1.MatchKey_MATCH_KEY_OBJECT_GUID, certaintyID)
	bareSAM := ""
	if sam := ref.GetSamAccountName(); sam != "" {
		domain, s := entity.SplitAccount(sam)
		if domain == "" {
			domain = entity.Fold(ref.GetDomain())
		}
		if domain != "" {
			add(nameDomainSAM, "sam", entity.DomainSAM(domain, s), adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, certaintyDomainSAM)
		} else {
			bareSAM = s
		}
	}
	if upn := entity.Fold(ref.GetUpn()); upn != "" {
		add(nameUPN, "upn", upn, adjoinv1.MatchKey_MATCH_KEY_UPN, certaintyDomainSAM)
		if realm, s := entity.SplitAccount(upn); realm != "" {
			add(nameDomainSAM, "sam", entity.DomainSAM(realm, s), adjoinv1.MatchKey_MATCH_KEY_UPN, certaintyDomainSAM)
		}
	}
	nb, fqdn := entity.HostNames(ref.GetDnsHostName())
	add(nameFQDN, "fqdn", fqdn, adjoinv1.MatchKey_MATCH_KEY_DNS_HOST_NAME, certaintyFQDN)
	if n, _ := entity.HostNames(ref.GetNetbiosName()); n != "" {
		nb = n
	}
	add(nameNetBIOS, "netbios", nb, adjoinv1.MatchKey_MATCH_KEY_NETBIOS_NAME, certaintyNetBIOS)
	var m Match
	for _, c := range cands {
		if key, ok := ix.names[c.kind][c.value]; ok {
			m.Entity, m.By, m.Value, m.Certainty = ix.byKey[key], c.by, c.value, c.certainty
			return m
		}
		m.Tried = append(m.Tried, c.label+":"+c.value)
	}
	if bareSAM != "" {
		if keys := ix.bareSAM[bareSAM]; len(keys) == 1 {
			for key := range keys {
				m.Entity, m.By, m.Value, m.Certainty = ix.byKey[key], adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, bareSAM, certaintyBareSAM
			}
			return m
		}
		m.Tried = append(m.Tried, "sam:"+bareSAM)
	}
	if ip := ref.GetIp(); ip != "" {
		m.Tried = append(m.Tried, "ip:"+ip)
	}
	return m
}

func (ix *mapIndex) ByDN(dn string) (*adjoinv1.Entity, bool) {
	key, ok := ix.names[nameDN][NormalizeDN(dn)]
	if !ok {
		return nil, false
	}
	return ix.byKey[key], true
}
