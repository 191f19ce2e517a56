package directory

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// synthGroups are the group DNs synthetic users are members of: a real directory has few
// groups and many members.
var synthGroups = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = fmt.Sprintf("CN=Team %02d,OU=Groups,OU=Corp,DC=corp,DC=example,DC=test", i)
	}
	return out
}()

// synthEntity returns the i-th entity of a synthetic enterprise directory with realistic name
// lengths: four users for every computer, SIDs S-1-5-21-<3x10 digits>-<rid>, objectGUIDs,
// sAMAccountNames of 8-12 characters, UPNs, DNs of about 70 characters, group memberships,
// and computers with a dNSHostName and SPNs. The i-th entity always has the same key.
func synthEntity(r *rand.Rand, i int) *adjoinv1.Entity {
	const domainSID = "S-1-5-21-3623811015-3361044348-30300820"
	g := rand.New(rand.NewPCG(uint64(i), 0x6775_6964)) // the i-th entity keeps its objectGUID
	guid := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", g.Uint32(), g.Uint32()&0xffff, g.Uint32()&0xffff, g.Uint32()&0xffff, g.Uint64()&0xffffffffffff)
	e := &adjoinv1.Entity{
		Sid:           fmt.Sprintf("%s-%d", domainSID, 1100+i),
		ObjectGuid:    guid,
		NetbiosDomain: "CORP",
		DnsDomain:     "corp.example.test",
		WhenChanged:   timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(1e6)) * time.Second)),
		Source:        "ldap:dc01.corp.example.test",
	}
	ou := fmt.Sprintf("OU=Site%02d,OU=Corp,DC=corp,DC=example,DC=test", i%40)
	if i%5 == 4 {
		name := fmt.Sprintf("WS%07d", i)
		e.Kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
		e.SamAccountName = name + "$"
		e.DnsHostName = name + ".corp.example.test"
		e.NetbiosName = name
		e.DistinguishedName = "CN=" + name + ",OU=Workstations," + ou
		e.ServicePrincipalNames = []string{"HOST/" + name, "HOST/" + e.DnsHostName}
		e.UserAccountControl = 4096
		return e
	}
	given := []string{"Alice", "Robert", "Maria", "Jean-Pierre", "Li", "Fatima", "Oleksandr", "Sam"}[r.IntN(8)]
	sur := []string{"Martin", "Nguyen", "Okafor", "Schmidt", "Garcia", "Kowalczyk", "Bernard"}[r.IntN(7)]
	sam := fmt.Sprintf("%.1s%s%d", given, sur, i)
	if len(sam) > 12 {
		sam = sam[len(sam)-12:]
	}
	e.Kind = adjoinv1.EntityKind_ENTITY_KIND_USER
	e.SamAccountName = sam
	e.Upn = sam + "@corp.example.test"
	e.DisplayName = given + " " + sur
	e.DistinguishedName = "CN=" + e.DisplayName + " " + fmt.Sprint(i) + ",OU=Users," + ou
	e.UserAccountControl = 512
	for g := r.IntN(4); g > 0; g-- {
		e.MemberOf = append(e.MemberOf, synthGroups[r.IntN(len(synthGroups))])
	}
	e.Privileged = i%97 == 0
	return e
}
