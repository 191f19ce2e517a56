package directory

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func selKey(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: s}}
}
func selSID(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: s}}
}
func selGUID(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_ObjectGuid{ObjectGuid: s}}
}
func selDomainSAM(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: s}}
}
func selUPN(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Upn{Upn: s}}
}
func selFQDN(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_DnsHostName{DnsHostName: s}}
}
func selNetBIOS(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_NetbiosName{NetbiosName: s}}
}
func selQuery(s string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: s}}
}

func TestFind(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	ws7 := shireComputer(sidGUIDKeyed, "WORKSTATION7")
	ws7.ObjectGuid = guidWS7
	ix.Put(ws7)

	tests := []struct {
		name      string
		sel       *adjoinv1.EntitySelector
		want      string // entity key, "" for no match
		wantBy    adjoinv1.MatchKey
		wantTried []string // checked only when not nil
		wantErr   error
	}{
		// Every selector kind, matching.
		{name: "entity_key", sel: selKey(sidPgustavo), want: sidPgustavo, wantTried: []string{"key:" + sidPgustavo}},
		{name: "entity_key trimmed", sel: selKey("  " + guidWS7 + "\t"), want: guidWS7},
		{name: "sid", sel: selSID(sidWS6), want: sidWS6, wantBy: bySID},
		{name: "sid lower case", sel: selSID("s-1-5-21-3669966080-2286457517-972388166-1000"), want: sidMordorDC, wantBy: bySID},
		{name: "object_guid", sel: selGUID(guidWS7), want: guidWS7, wantBy: byGUID},
		{name: "object_guid with braces", sel: selGUID("{" + guidWS7 + "}"), want: guidWS7, wantBy: byGUID},
		{name: "domain_sam NetBIOS domain", sel: selDomainSAM(`THESHIRE\pgustavo`), want: sidPgustavo, wantBy: bySAM},
		{name: "domain_sam DNS domain", sel: selDomainSAM(`theshire.local\WARDOG`), want: sidWardog, wantBy: bySAM},
		{name: "domain_sam computer", sel: selDomainSAM(`THESHIRE\WORKSTATION6$`), want: sidWS6, wantBy: bySAM},
		{name: "upn", sel: selUPN("sbeavers@THESHIRE.LOCAL"), want: sidSbeavers, wantBy: byUPN},
		{name: "dns_host_name", sel: selFQDN("MORDORDC.theshire.local"), want: sidMordorDC, wantBy: byFQDN},
		{name: "netbios_name", sel: selNetBIOS("wec"), want: sidWEC, wantBy: byNetBIOS},
		{name: "netbios_name with $", sel: selNetBIOS("WEC$"), want: sidWEC, wantBy: byNetBIOS},
		{name: "netbios_name of an entity keyed by its GUID", sel: selNetBIOS("Workstation7"), want: guidWS7, wantBy: byNetBIOS},
		{name: "sid of an entity keyed by its GUID", sel: selSID(sidGUIDKeyed), want: guidWS7, wantBy: bySID},

		// Well-formed, no match: not an error.
		{name: "entity_key unknown", sel: selKey("S-1-5-21-1-2-3-4"), wantTried: []string{"key:S-1-5-21-1-2-3-4"}},
		{name: "sid unknown", sel: selSID(shireDomainSID + "-4242"), wantTried: []string{"sid:" + shireDomainSID + "-4242"}},
		{name: "domain_sam unknown domain", sel: selDomainSAM(`MORDOR\pgustavo`), wantTried: []string{`sam:mordor\pgustavo`}},
		{name: "netbios_name unknown", sel: selNetBIOS("BAGEND"), wantTried: []string{"netbios:bagend"}},

		// Empty and malformed selectors.
		{name: "nil selector", sel: nil, wantErr: ErrInvalidSelector},
		{name: "no selector set", sel: &adjoinv1.EntitySelector{}, wantErr: ErrInvalidSelector},
		{name: "entity_key empty", sel: selKey(""), wantErr: ErrInvalidSelector},
		{name: "entity_key blank", sel: selKey("   "), wantErr: ErrInvalidSelector},
		{name: "sid empty", sel: selSID(""), wantErr: ErrInvalidSelector},
		{name: "sid malformed", sel: selSID("S-1-5-21-abc"), wantErr: ErrInvalidSelector},
		{name: "sid is a name", sel: selSID("pgustavo"), wantErr: ErrInvalidSelector},
		{name: "object_guid empty", sel: selGUID(""), wantErr: ErrInvalidSelector},
		{name: "object_guid too short", sel: selGUID("5b7e1a52-9c3d-4f0e-a1b2"), wantErr: ErrInvalidSelector},
		{name: "object_guid is a SID", sel: selGUID(sidPgustavo), wantErr: ErrInvalidSelector},
		{name: "domain_sam empty", sel: selDomainSAM(""), wantErr: ErrInvalidSelector},
		{name: "domain_sam without domain", sel: selDomainSAM("pgustavo"), wantErr: ErrInvalidSelector},
		{name: "domain_sam empty domain", sel: selDomainSAM(`\pgustavo`), wantErr: ErrInvalidSelector},
		{name: "domain_sam empty name", sel: selDomainSAM(`THESHIRE\`), wantErr: ErrInvalidSelector},
		{name: "domain_sam given a UPN", sel: selDomainSAM("pgustavo@theshire.local"), wantErr: ErrInvalidSelector},
		{name: "upn empty", sel: selUPN(""), wantErr: ErrInvalidSelector},
		{name: "upn without @", sel: selUPN("pgustavo"), wantErr: ErrInvalidSelector},
		{name: "upn empty name", sel: selUPN("@theshire.local"), wantErr: ErrInvalidSelector},
		{name: "upn empty domain", sel: selUPN("pgustavo@"), wantErr: ErrInvalidSelector},
		{name: "upn given DOMAIN\\sam", sel: selUPN(`THESHIRE\pgustavo`), wantErr: ErrInvalidSelector},
		{name: "dns_host_name empty", sel: selFQDN(""), wantErr: ErrInvalidSelector},
		{name: "dns_host_name single label", sel: selFQDN("WORKSTATION6"), wantErr: ErrInvalidSelector},
		{name: "netbios_name empty", sel: selNetBIOS(""), wantErr: ErrInvalidSelector},
		{name: "netbios_name only $", sel: selNetBIOS("$"), wantErr: ErrInvalidSelector},
		{name: "netbios_name is an FQDN", sel: selNetBIOS("WORKSTATION6.theshire.local"), wantErr: ErrInvalidSelector},
		{name: "query empty", sel: selQuery(""), wantErr: ErrInvalidSelector},
		{name: "query blank", sel: selQuery(" \t "), wantErr: ErrInvalidSelector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := findBoth(t, ix, tt.sel)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Find(%v) error = %v, want %v", tt.sel, err, tt.wantErr)
			}
			if err != nil {
				if m.Entity != nil {
					t.Errorf("Find returned entity %s with an error", keyOf(m))
				}
				return
			}
			if got := keyOf(m); got != tt.want {
				t.Fatalf("Find(%v) = %q, want %q (tried %q)", tt.sel, got, tt.want, m.Tried)
			}
			if tt.want != "" && tt.wantBy != byNone && m.By != tt.wantBy {
				t.Errorf("By = %s, want %s", m.By, tt.wantBy)
			}
			if tt.wantTried != nil && !slices.Equal(m.Tried, tt.wantTried) {
				t.Errorf("Tried = %q, want %q", m.Tried, tt.wantTried)
			}
		})
	}
}

// sidGUIDKeyed is a SID given to WORKSTATION7, so that a SID selector finds an entity whose
// key is not the SID asked for.
const sidGUIDKeyed = shireDomainSID + "-1114"

// findBoth returns Find(sel), after checking that FindKey(sel) gives the same match and error
// without building the entity.
func findBoth(t *testing.T, ix *Index, sel *adjoinv1.EntitySelector) (Match, error) {
	t.Helper()
	m, err := ix.Find(sel)
	k, kerr := ix.FindKey(sel)
	if fmt.Sprint(err) != fmt.Sprint(kerr) {
		t.Errorf("FindKey(%v) error = %v, Find's %v", sel, kerr, err)
	}
	if k.Entity != nil {
		t.Errorf("FindKey(%v) built entity %s", sel, k.Entity.GetKey())
	}
	if k.Key != keyOf(m) || m.Key != keyOf(m) {
		t.Errorf("FindKey(%v).Key = %q, Find's Key %q; want %q", sel, k.Key, m.Key, keyOf(m))
	}
	if k.By != m.By || k.Value != m.Value || k.Certainty != m.Certainty || !slices.Equal(k.Tried, m.Tried) {
		t.Errorf("FindKey(%v) = %+v, Find's %+v", sel, k, m)
	}
	return m, err
}

// The error of a malformed selector names the field and the value, so an API caller can fix it.
func TestFindErrorNamesTheProblem(t *testing.T) {
	t.Parallel()
	ix := NewIndex()
	_, err := ix.Find(selDomainSAM("pgustavo"))
	if !errors.Is(err, ErrInvalidSelector) {
		t.Fatalf("error = %v, want ErrInvalidSelector", err)
	}
	for _, want := range []string{"domain_sam", `"pgustavo"`, `DOMAIN\name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Query recognises a free-form name by its shape.
func TestFindQuery(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)

	tests := []struct {
		name          string
		query         string
		want          string
		wantBy        adjoinv1.MatchKey
		wantCertainty float64
		wantTried     []string
		wantErr       error
	}{
		{name: "SID", query: sidPgustavo, want: sidPgustavo, wantBy: bySID, wantCertainty: 1},
		{name: "SID lower case with spaces", query: "  s-1-5-21-3669966080-2286457517-972388166-1112 ", want: sidWS6, wantBy: bySID, wantCertainty: 1},
		{name: "GUID with braces", query: "{5B7E1A52-9C3D-4F0E-A1B2-7D6C5E4F3A21}", want: guidWS7, wantBy: byGUID, wantCertainty: 1},
		{name: "GUID bare", query: guidWS7, want: guidWS7, wantBy: byGUID, wantCertainty: 1},
		{name: "GUID unknown", query: "{00000000-0000-0000-0000-000000000001}", wantTried: []string{"guid:00000000-0000-0000-0000-000000000001"}},
		{name: "DOMAIN\\sam", query: `THESHIRE\pgustavo`, want: sidPgustavo, wantBy: bySAM, wantCertainty: certaintyDomainSAM},
		{name: "DOMAIN\\sam of a computer", query: `theshire\workstation5$`, want: sidWS5, wantBy: bySAM, wantCertainty: certaintyDomainSAM},
		{name: "UPN", query: "wardog@theshire.local", want: sidWardog, wantBy: byUPN, wantCertainty: certaintyDomainSAM},
		{name: "Kerberos sam@REALM", query: "pgustavo@THESHIRE.LOCAL", want: sidPgustavo, wantBy: byUPN, wantCertainty: certaintyDomainSAM},
		{name: "FQDN", query: "WORKSTATION6.theshire.local", want: sidWS6, wantBy: byFQDN, wantCertainty: certaintyFQDN},
		{name: "bare name is a user first", query: "pgustavo", want: sidPgustavo, wantBy: bySAM, wantCertainty: certaintyBareSAM},
		{
			name: "bare name then a computer", query: "WORKSTATION6", want: sidWS6, wantBy: byNetBIOS, wantCertainty: certaintyNetBIOS,
			wantTried: []string{"sam:workstation6"},
		},
		{name: "bare machine account", query: "MORDORDC$", want: sidMordorDC, wantBy: bySAM, wantCertainty: certaintyBareSAM},
		{name: "bare name unknown", query: "frodo", wantTried: []string{"sam:frodo", "netbios:frodo"}},
		{name: "malformed DOMAIN\\sam", query: `THESHIRE\`, wantErr: ErrInvalidSelector},
		{name: "malformed UPN", query: "pgustavo@", wantErr: ErrInvalidSelector},
		{name: "empty", query: "", wantErr: ErrInvalidSelector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := findBoth(t, ix, selQuery(tt.query))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Find(query %q) error = %v, want %v", tt.query, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := keyOf(m); got != tt.want {
				t.Fatalf("Find(query %q) = %q, want %q (tried %q)", tt.query, got, tt.want, m.Tried)
			}
			if tt.want == "" {
				if !slices.Equal(m.Tried, tt.wantTried) {
					t.Errorf("Tried = %q, want %q", m.Tried, tt.wantTried)
				}
				return
			}
			if m.By != tt.wantBy || m.Certainty != tt.wantCertainty {
				t.Errorf("By, Certainty = %s, %v; want %s, %v", m.By, m.Certainty, tt.wantBy, tt.wantCertainty)
			}
			if tt.wantTried != nil && !slices.Equal(m.Tried, tt.wantTried) {
				t.Errorf("Tried = %q, want %q", m.Tried, tt.wantTried)
			}
		})
	}
}

// A user whose sam equals a computer's NetBIOS name wins a bare-name query: users first.
func TestFindQueryUserBeforeComputer(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	ix.Put(shireUser(shireDomainSID+"-1200", "wec", "a user named like the collector"))
	m, err := ix.Find(selQuery("WEC"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keyOf(m), shireDomainSID+"-1200"; got != want {
		t.Errorf("Find(query WEC) = %q, want the user %q", got, want)
	}
}
