package directory

import "strings"

// domainCount keeps how many entities name each domain (NetBIOS or DNS name, as written), so a
// detector can tell an account the directory does not hold from an account of a domain the
// directory does not cover (a trusted forest, another lab's logs). Entities are counted as they
// are encoded and released; the map holds one entry per spelling of a domain name, a handful.
func (ix *Index) domainCount(name string, delta int) {
	if name == "" {
		return
	}
	if ix.domains == nil {
		ix.domains = map[string]int{}
	}
	if n := ix.domains[name] + delta; n > 0 {
		ix.domains[name] = n
	} else {
		delete(ix.domains, name)
	}
}

// KnowsDomain reports whether any entity of the directory belongs to the domain, by its
// NetBIOS or DNS name in any case ("THESHIRE", "theshire.local", "THESHIRE.LOCAL").
func (ix *Index) KnowsDomain(name string) bool {
	if name == "" {
		return false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.domains[name] > 0 {
		return true
	}
	for d := range ix.domains {
		if strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}
