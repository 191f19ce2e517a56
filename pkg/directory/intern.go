package directory

// interner stores each distinct domain name, domain SID, source, DN parent and group DN once:
// a directory repeats a handful of them across every entity. Entries are reference counted so
// that a long-lived index that sees names come and go does not keep the ones nothing uses.
// Id 0 is the empty string and is never counted.
type interner struct {
	strs []string
	refs []uint32
	ids  map[string]uint32
	free []uint32
	rdns []string // appendNormalizeRDNs of the DN parents added by addDN, by id; "" for others
	// recent holds ids of strings added lately, by a hash of their length and last byte:
	// consecutive entities repeat their domain, source and parent, and a comparison with the
	// string at a recent id costs less than a map lookup. An id freed since is harmless: its
	// string is "" and matches nothing added.
	recent [16]uint32
}

func newInterner() interner {
	return interner{strs: []string{""}, refs: []uint32{0}, ids: map[string]uint32{}}
}

// add returns the id of s, counting one more reference. s may be a view into bytes the caller
// does not own: a new entry keeps a copy.
func (in *interner) add(s string) uint32 {
	if s == "" {
		return 0
	}
	slot := &in.recent[(len(s)*7+int(s[len(s)-1]))%len(in.recent)]
	if id := *slot; in.strs[id] == s {
		in.refs[id]++
		return id
	}
	if id, ok := in.ids[s]; ok {
		in.refs[id]++
		*slot = id
		return id
	}
	s = string([]byte(s))
	var id uint32
	if n := len(in.free); n > 0 {
		id = in.free[n-1]
		in.free = in.free[:n-1]
		in.strs[id], in.refs[id] = s, 1
	} else {
		id = uint32(len(in.strs))
		in.strs = append(in.strs, s)
		in.refs = append(in.refs, 1)
	}
	in.ids[s] = id
	*slot = id
	return id
}

// release drops one reference to id, forgetting the string with its last one.
func (in *interner) release(id uint32) {
	if id == 0 {
		return
	}
	if in.refs[id]--; in.refs[id] == 0 {
		delete(in.ids, in.strs[id])
		in.strs[id] = ""
		if int(id) < len(in.rdns) {
			in.rdns[id] = ""
		}
		in.free = append(in.free, id)
	}
}

func (in *interner) get(id uint32) string { return in.strs[id] }

// addDN is add for the parent of a DN (all but its first RDN), which also keeps the parent's
// normalised RDNs for the DN's name: the few parents of a directory are normalised once, not
// once for each of their children. The parent is not empty, so neither are its RDNs.
func (in *interner) addDN(parent string) uint32 {
	id := in.add(parent)
	if int(id) >= len(in.rdns) {
		in.rdns = append(in.rdns, make([]string, len(in.strs)-len(in.rdns))...)
	}
	if in.rdns[id] == "" {
		in.rdns[id] = string(appendNormalizeRDNs(nil, in.strs[id]))
	}
	return id
}

// dnRDNs returns the normalised RDNs of a parent added by addDN.
func (in *interner) dnRDNs(id uint32) string { return in.rdns[id] }
