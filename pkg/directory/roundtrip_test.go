package directory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func pick(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }

// randomEntity draws an entity from small pools of awkward values, so that entities share
// names, identifiers come in non-canonical forms, and names the index derives (UPN from sam
// and domain, host name from sam) are sometimes derivable and sometimes not.
func randomEntity(r *rand.Rand) *adjoinv1.Entity {
	sam := pick(r, "", "bob", "Bob", " bob ", "WS1$", "ws1$", "Ünïcode", "x", "İstanbul", "K\u212a", "a\\b", "WS2$")
	bare := strings.TrimSuffix(sam, "$")
	dns := pick(r, "", "corp.example.test", "CORP.example.test", "other.test")
	e := &adjoinv1.Entity{
		Kind:               adjoinv1.EntityKind(pick3(r, 0, 1, 2, 2, 1, 7, -3)),
		Sid:                pick(r, "", "S-1-5-21-1-2-3-1104", "s-1-5-21-1-2-3-1104", " S-1-5-21-1-2-3-1105 ", "S-1-5-21-1-2-3-0042", "S-1-5-18", "S-1-5-21-1-2-3-1106", "S-1-x", "S-1-5-21-99999999999", "S-1-5-21-1-2-3-4294967295"),
		ObjectGuid:         pick(r, "", "", "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21", "{5B7E1A52-9C3D-4F0E-A1B2-7D6C5E4F3A21}", "6b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21", "not-a-guid"),
		SamAccountName:     sam,
		NetbiosDomain:      pick(r, "", "CORP", "Corp", "ÉCOLE"),
		DnsDomain:          dns,
		Upn:                pick(r, "", sam+"@"+dns, strings.ToUpper(sam)+"@"+dns, "alice@corp.example.test", " Bob@Corp "),
		DnsHostName:        pick(r, "", bare+"."+dns, "ws1", "WS1.other.test.", "x$", bare+"."+dns+"."),
		NetbiosName:        pick(r, "", bare, "WS9", " "),
		DisplayName:        pick(r, "", "Bob Martin", "Ünïcode Ñame"),
		DistinguishedName:  pick(r, "", "CN=Bob,OU=x,DC=corp", `CN=Baggins\, Frodo,DC=x`, "CN=a", "cn=x , dc=y;dc=z", ",", "CN=a,", "no equals", `CN=trail\ ,DC=x`, "CN=Bob,OU=x,DC=corp"),
		Privileged:         r.IntN(3) == 0,
		Disabled:           r.IntN(3) == 0,
		UserAccountControl: uint32(pick3(r, 0, 512, 4096, 8192, -1)),
		Source:             pick(r, "", "ldif:a.ldif", "ldap:dc1"),
	}
	for range r.IntN(3) {
		e.ServicePrincipalNames = append(e.ServicePrincipalNames, pick(r, "", "HOST/ws1", "HOST/ws1.corp.example.test"))
	}
	for range r.IntN(4) {
		e.MemberOf = append(e.MemberOf, pick(r, "", "CN=Domain Admins,CN=Users,DC=corp", "CN=Team,OU=G,DC=corp"))
	}
	switch r.IntN(3) {
	case 1:
		e.WhenChanged = &timestamppb.Timestamp{}
	case 2:
		e.WhenChanged = &timestamppb.Timestamp{Seconds: r.Int64N(1 << 40), Nanos: r.Int32N(1e9)}
	}
	return e
}

func pick3(r *rand.Rand, xs ...int) int { return xs[r.IntN(len(xs))] }

// withKeyOf is e as the index returns it: a copy with its key filled in.
func withKeyOf(e *adjoinv1.Entity) *adjoinv1.Entity {
	c := proto.Clone(e).(*adjoinv1.Entity)
	c.Key = entity.Key(e)
	return c
}

func TestIndexRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(17, 1))
	ents := shireEntities()
	for range 3000 {
		ents = append(ents, randomEntity(r))
	}
	ents = append(ents, &adjoinv1.Entity{Sid: "S-1-5-21-1-2-3-7", SamAccountName: "bad\xffutf8", DistinguishedName: "CN=\xff,DC=x"})
	for i := range 2000 {
		ents = append(ents, synthEntity(r, i))
	}
	for _, e := range ents {
		key := entity.Key(e)
		if key == "" {
			continue
		}
		want := withKeyOf(e)
		ix := NewIndex()
		ix.Put(e)
		if got, ok := ix.Get(key); !ok || !proto.Equal(got, want) {
			t.Fatalf("Put then Get(%q) = %v, %v\nwant %v", key, got, ok, want)
		}
		data, err := proto.Marshal(e)
		if err != nil {
			continue // invalid UTF-8 never reaches the bucket
		}
		ix = NewIndex()
		if err := ix.putBytes(data); err != nil {
			t.Fatalf("putBytes(%v): %v", e, err)
		}
		if got, ok := ix.Get(key); !ok || !proto.Equal(got, want) {
			t.Fatalf("putBytes then Get(%q) = %v, %v\nwant %v", key, got, ok, want)
		}
	}
}

// TestIndexResolvesAsTheMapIndex runs random puts and deletes of entities that share names
// against the compact index and the map index it replaced, and compares every resolution.
func TestIndexResolvesAsTheMapIndex(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 2))
		ix, want := NewIndex(), newMapIndex()
		if seed%2 == 1 {
			// As Follow loads: names are queued, and every resolution below settles them.
			ix.beginBulk()
		}
		var pool []*adjoinv1.Entity
		for step := range 300 {
			if len(pool) > 0 && r.IntN(4) == 0 {
				key := entity.Key(pool[r.IntN(len(pool))])
				ix.Delete(key)
				want.Delete(key)
			} else {
				e := randomEntity(r)
				pool = append(pool, e)
				ix.Put(e)
				want.Put(e)
			}
			e := pool[r.IntN(len(pool))]
			for _, ref := range refsOf(r, e) {
				got, exp := ix.Resolve(ref), want.Resolve(ref)
				if !sameMatch(got, exp) {
					t.Fatalf("seed %d step %d: Resolve(%v)\n got %v %s %q %v %v\nwant %v %s %q %v %v", seed, step, ref,
						got.Entity, got.By, got.Value, got.Certainty, got.Tried, exp.Entity, exp.By, exp.Value, exp.Certainty, exp.Tried)
				}
			}
			for _, dn := range []string{e.GetDistinguishedName(), strings.ToUpper(e.GetDistinguishedName())} {
				got, ok := ix.ByDN(dn)
				exp, expOK := want.ByDN(dn)
				if ok != expOK || !proto.Equal(got, exp) {
					t.Fatalf("seed %d step %d: ByDN(%q) = %v, %v; want %v, %v", seed, step, dn, got, ok, exp, expOK)
				}
			}
			keys, wantKeys := ix.Keys(), mapKeys(want)
			slices.Sort(keys)
			if !slices.Equal(keys, wantKeys) || ix.Len() != len(wantKeys) {
				t.Fatalf("seed %d step %d: Keys = %v (Len %d), want %v", seed, step, keys, ix.Len(), wantKeys)
			}
			for _, k := range wantKeys {
				if got, ok := ix.Get(k); !ok || !proto.Equal(got, want.byKey[k]) {
					t.Fatalf("seed %d step %d: Get(%q) = %v, want %v", seed, step, k, got, want.byKey[k])
				}
			}
		}
	}
}

func mapKeys(ix *mapIndex) []string {
	var keys []string
	for k := range ix.byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// refsOf returns references a sensor could write for e: each of its names alone, in other
// cases, and combined.
func refsOf(r *rand.Rand, e *adjoinv1.Entity) []*adjoinv1.EntityRef {
	up := strings.ToUpper
	return []*adjoinv1.EntityRef{
		{Sid: e.GetSid()},
		{Sid: strings.ToLower(e.GetSid())},
		{ObjectGuid: e.GetObjectGuid()},
		{SamAccountName: e.GetSamAccountName()},
		{SamAccountName: e.GetSamAccountName(), Domain: pick(r, e.GetNetbiosDomain(), up(e.GetDnsDomain()))},
		{SamAccountName: e.GetNetbiosDomain() + `\` + up(e.GetSamAccountName())},
		{Upn: e.GetUpn()},
		{Upn: e.GetSamAccountName() + "@" + e.GetNetbiosDomain()},
		{DnsHostName: up(e.GetDnsHostName())},
		{NetbiosName: e.GetNetbiosName()},
		{NetbiosName: e.GetSamAccountName()},
		{Sid: "S-1-5-21-1-2-3-9999", SamAccountName: e.GetSamAccountName(), DnsHostName: e.GetDnsHostName(), Ip: "10.0.0.1"},
	}
}

func sameMatch(a, b Match) bool {
	return proto.Equal(a.Entity, b.Entity) && a.By == b.By && a.Value == b.Value && a.Certainty == b.Certainty && slices.Equal(a.Tried, b.Tried)
}

// TestBulkLoadIndexesAsPut loads the same entries once name by name and once as Follow loads
// them (queued names, swept in table order, with rewrites and deletes among them), and
// compares what the two resolve.
func TestBulkLoadIndexesAsPut(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 14))
	var ops []*adjoinv1.Entity // nil deletes the entity before it
	for i := range 4000 {
		e := randomEntity(r)
		if r.IntN(4) != 0 {
			// A key of its own and names shared with others: the queue holds several
			// entities of one name, and the last written must win.
			e.ObjectGuid = ""
			e.Sid = fmt.Sprintf("S-1-5-21-7-7-7-%d", i)
		}
		if r.IntN(4) == 0 {
			e = synthEntity(r, r.IntN(2000)) // many rewrites of the same keys
		}
		ops = append(ops, e)
		// No deletes (each flushes the queue) in the first thousand entities, so that the first
		// flush sweeps several thousand names in table order (sortMin), and the later ones a
		// few in the order written.
		if i >= 1000 && r.IntN(20) == 0 {
			ops = append(ops, nil)
		}
	}
	one, bulk, want := NewIndex(), NewIndex(), newMapIndex()
	bulk.beginBulk()
	for i, e := range ops {
		if e == nil {
			key := entity.Key(ops[i-1])
			one.Delete(key)
			bulk.Delete(key)
			want.Delete(key)
			continue
		}
		one.Put(e)
		data, err := proto.Marshal(e)
		if err != nil {
			bulk.Put(e)
		} else if err := bulk.putBytes(data); err != nil {
			t.Fatal(err)
		}
		want.Put(e)
	}
	bulk.mu.RLock()
	queued := len(bulk.pending)
	bulk.mu.RUnlock()
	if queued == 0 {
		t.Fatal("nothing was queued: the test does not exercise the bulk load")
	}
	bulk.endBulk()
	for _, e := range ops {
		if e == nil {
			continue
		}
		for _, ref := range refsOf(r, e) {
			got, exp := bulk.Resolve(ref), want.Resolve(ref)
			if !sameMatch(got, exp) || !sameMatch(one.Resolve(ref), exp) {
				t.Fatalf("Resolve(%v) after a bulk load = %v %s %q, want %v %s %q", ref, got.Entity, got.By, got.Value, exp.Entity, exp.By, exp.Value)
			}
		}
	}
	if bulk.Len() != len(want.byKey) {
		t.Errorf("Len after a bulk load = %d, want %d", bulk.Len(), len(want.byKey))
	}
}
