package directory

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Entities of the OTRF "Shire" lab as recorded in scenario S1 (2020-08-05), with the values of
// services/adjoin/demo/theshire.ldif: domain theshire.local, NetBIOS THESHIRE. The S1 recording
// shows no objectGUID, so every key is the SID, as in the demo directory.
const (
	shireDomainSID = "S-1-5-21-3669966080-2286457517-972388166"
	sidPgustavo    = shireDomainSID + "-1104"
	sidWardog      = shireDomainSID + "-500"
	sidSbeavers    = shireDomainSID + "-1106"
	sidMordorDC    = shireDomainSID + "-1000"
	sidWEC         = shireDomainSID + "-1111"
	sidWS6         = shireDomainSID + "-1112"
	sidWS5         = shireDomainSID + "-1113"

	// guidWS7 is invented: WORKSTATION7 exists only in the S12 recording, whose objectGUIDs
	// were never captured. It stands for a directory entity keyed by its objectGUID.
	guidWS7 = "5b7e1a52-9c3d-4f0e-a1b2-7d6c5e4f3a21"
)

func shireUser(sid, sam, display string) *adjoinv1.Entity {
	return &adjoinv1.Entity{
		Kind:           adjoinv1.EntityKind_ENTITY_KIND_USER,
		Sid:            sid,
		SamAccountName: sam,
		NetbiosDomain:  "THESHIRE",
		DnsDomain:      "theshire.local",
		Upn:            sam + "@theshire.local",
		DisplayName:    display,
	}
}

func shireComputer(sid, name string) *adjoinv1.Entity {
	return &adjoinv1.Entity{
		Kind:           adjoinv1.EntityKind_ENTITY_KIND_COMPUTER,
		Sid:            sid,
		SamAccountName: name + "$",
		NetbiosDomain:  "THESHIRE",
		DnsDomain:      "theshire.local",
		DnsHostName:    name + ".theshire.local",
		NetbiosName:    name,
	}
}

// shireEntities returns fresh copies of the lab's directory.
func shireEntities() []*adjoinv1.Entity {
	ws5 := shireComputer(sidWS5, "WORKSTATION5")
	ws5.NetbiosName = "" // as an LDIF without it gives: the NetBIOS name comes from sAMAccountName
	ws7 := shireComputer("", "WORKSTATION7")
	ws7.ObjectGuid = "{" + guidWS7 + "}"
	return []*adjoinv1.Entity{
		shireUser(sidPgustavo, "pgustavo", "Gustavo Pedro"),
		shireUser(sidWardog, "wardog", "wardog"),
		shireUser(sidSbeavers, "sbeavers", "Beavers Stevie"),
		shireComputer(sidMordorDC, "MORDORDC"),
		shireComputer(sidWEC, "WEC"),
		shireComputer(sidWS6, "WORKSTATION6"),
		ws5,
		ws7,
	}
}

// shireIndex returns an index holding the lab's directory.
func shireIndex(t *testing.T) *Index {
	t.Helper()
	ix := NewIndex()
	for _, e := range shireEntities() {
		ix.Put(e)
	}
	if got, want := ix.Len(), len(shireEntities()); got != want {
		t.Fatalf("Len after loading the Shire directory = %d, want %d", got, want)
	}
	return ix
}

// keyOf is the key a match found, "" for none.
func keyOf(m Match) string {
	if m.Entity == nil {
		return ""
	}
	return m.Entity.GetKey()
}
