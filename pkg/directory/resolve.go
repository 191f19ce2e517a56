package directory

import (
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Match is the outcome of resolving one reference.
type Match struct {
	Entity *adjoinv1.Entity // nil when nothing matched, and always from FindKey
	// Key is the matched entity's key ("" when nothing matched): all FindKey gives of it.
	Key       string
	By        adjoinv1.MatchKey
	Value     string   // the normalised name that matched
	Certainty float64  // 1 for SID and GUID, lower for names
	Tried     []string // "kind:value" of every name tried, in order
}

// Certainty of each kind of match: identifiers are exact; names can be stale or reused.
const (
	certaintyID        = 1.0
	certaintyDomainSAM = 0.95
	certaintyFQDN      = 0.9
	certaintyNetBIOS   = 0.8
	certaintyBareSAM   = 0.7
)

type candidate struct {
	kind      nameKind
	label     string
	value     string
	by        adjoinv1.MatchKey
	certainty float64
}

// Resolve finds the entity a sensor reference names, trying its names in the order of trust.
// A SID that the directory does not know does not stop the search: the account may have been
// recreated or the sensor may belong to another forest, so names are tried next, with less
// certainty, and Match.Tried records what failed.
func (ix *Index) Resolve(ref *adjoinv1.EntityRef) Match { return ix.resolve(ref, true) }

// resolve is Resolve, building the entity matched or (build false) only giving its key.
func (ix *Index) resolve(ref *adjoinv1.EntityRef, build bool) Match {
	// At most seven candidates (SID, GUID, DOMAIN\sam, UPN and sam@realm, FQDN, NetBIOS), kept
	// on the stack: resolving a GetBadge selector allocates nothing when it matches.
	var buf [7]candidate
	cands := buf[:0]
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
		// Kerberos writes sam@REALM, which is not always the UPN.
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

	ix.settle()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var m Match
	for _, c := range cands {
		if i, ok := ix.lookup(c.kind, c.value); ok {
			ix.found(&m, i, build, c.value)
			m.By, m.Value, m.Certainty = c.by, c.value, c.certainty
			return m
		}
		m.Tried = append(m.Tried, c.label+":"+c.value)
	}
	if bareSAM != "" {
		if i, ok := ix.unique(nameBareSAM, bareSAM); ok {
			ix.found(&m, i, build, "")
			m.By, m.Value, m.Certainty = adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM, bareSAM, certaintyBareSAM
			return m
		}
		m.Tried = append(m.Tried, "sam:"+bareSAM)
	}
	if ip := ref.GetIp(); ip != "" {
		// IPs resolve only through recorded logons, which the correlator owns.
		m.Tried = append(m.Tried, "ip:"+ip)
	}
	return m
}

// found sets m.Key to record i's key and, when build, m.Entity to the entity built from it.
// value is the name that matched: when it is the key (a SID or GUID matching the entity keyed
// by it), the key is that string and not a copy. Called with mu held.
func (ix *Index) found(m *Match, i uint32, build bool, value string) {
	if build {
		m.Entity = ix.entity(i)
		m.Key = m.Entity.GetKey()
		return
	}
	r := &ix.recs[i]
	var buf [64]byte
	var b []byte
	if r.flags&fGUID != 0 {
		b = appendGUID(buf[:0], &r.guid)
	} else {
		f := ix.fields(r)
		b, _ = ix.appendSID(buf[:0], r, &f)
	}
	if string(b) == value {
		m.Key = value
		return
	}
	m.Key = string(b)
}

// unique returns the one record a shared name of kind points at, and false when none or
// several do.
func (ix *Index) unique(kind nameKind, name string) (uint32, bool) {
	found, n := uint32(0), 0
	ix.names.find(ix.names.hashString(kind, name), func(i uint32) bool {
		if ix.hasName(i, kind, name) {
			found, n = i, n+1
		}
		return n > 1
	})
	return found, n == 1
}
