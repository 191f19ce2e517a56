package directory

import (
	"slices"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

const (
	bySID     = adjoinv1.MatchKey_MATCH_KEY_SID
	byGUID    = adjoinv1.MatchKey_MATCH_KEY_OBJECT_GUID
	bySAM     = adjoinv1.MatchKey_MATCH_KEY_DOMAIN_SAM
	byUPN     = adjoinv1.MatchKey_MATCH_KEY_UPN
	byFQDN    = adjoinv1.MatchKey_MATCH_KEY_DNS_HOST_NAME
	byNetBIOS = adjoinv1.MatchKey_MATCH_KEY_NETBIOS_NAME
	byNone    = adjoinv1.MatchKey_MATCH_KEY_UNSPECIFIED
)

func TestResolve(t *testing.T) {
	t.Parallel()
	ix := shireIndex(t)
	unknownSID := shireDomainSID + "-9999"
	// Another build of the lab: the same names, another domain SID (see shared/data/README.md).
	otherBuildSID := "S-1-5-21-4228717743-1032521047-1810997296-1104"

	tests := []struct {
		name          string
		ref           *adjoinv1.EntityRef
		wantKey       string
		wantBy        adjoinv1.MatchKey
		wantValue     string
		wantCertainty float64
		wantTried     []string
	}{
		// Identifiers.
		{
			name:    "SID",
			ref:     &adjoinv1.EntityRef{Sid: sidPgustavo},
			wantKey: sidPgustavo, wantBy: bySID, wantValue: sidPgustavo, wantCertainty: 1,
		},
		{
			name:    "SID lower case",
			ref:     &adjoinv1.EntityRef{Sid: " s-1-5-21-3669966080-2286457517-972388166-1104 "},
			wantKey: sidPgustavo, wantBy: bySID, wantValue: sidPgustavo, wantCertainty: 1,
		},
		{
			name:    "SID beats a name naming someone else",
			ref:     &adjoinv1.EntityRef{Sid: sidPgustavo, SamAccountName: `THESHIRE\wardog`, Upn: "wardog@theshire.local"},
			wantKey: sidPgustavo, wantBy: bySID, wantValue: sidPgustavo, wantCertainty: 1,
		},
		{
			name:    "SID beats GUID",
			ref:     &adjoinv1.EntityRef{Sid: sidWS6, ObjectGuid: guidWS7},
			wantKey: sidWS6, wantBy: bySID, wantValue: sidWS6, wantCertainty: 1,
		},
		{
			name:    "GUID with braces and upper case",
			ref:     &adjoinv1.EntityRef{ObjectGuid: "{5B7E1A52-9C3D-4F0E-A1B2-7D6C5E4F3A21}"},
			wantKey: guidWS7, wantBy: byGUID, wantValue: guidWS7, wantCertainty: 1,
		},
		{
			name:    "unknown SID falls back to DOMAIN\\sam with less certainty",
			ref:     &adjoinv1.EntityRef{Sid: unknownSID, SamAccountName: `THESHIRE\pgustavo`},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire\pgustavo`, wantCertainty: certaintyDomainSAM,
			wantTried: []string{"sid:" + unknownSID},
		},
		{
			name:    "SID of another lab build falls back to the name",
			ref:     &adjoinv1.EntityRef{Sid: otherBuildSID, SamAccountName: "pgustavo", Domain: "THESHIRE"},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire\pgustavo`, wantCertainty: certaintyDomainSAM,
			wantTried: []string{"sid:" + otherBuildSID},
		},
		{
			name:    "unknown SID and unknown GUID then the UPN",
			ref:     &adjoinv1.EntityRef{Sid: unknownSID, ObjectGuid: "00000000-0000-0000-0000-000000000001", Upn: "wardog@theshire.local"},
			wantKey: sidWardog, wantBy: byUPN, wantValue: "wardog@theshire.local", wantCertainty: certaintyDomainSAM,
			wantTried: []string{"sid:" + unknownSID, "guid:00000000-0000-0000-0000-000000000001"},
		},
		{
			name:    "malformed SID is not tried",
			ref:     &adjoinv1.EntityRef{Sid: "S-1-5-21-not-a-sid", SamAccountName: `THESHIRE\pgustavo`},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire\pgustavo`, wantCertainty: certaintyDomainSAM,
			wantTried: nil,
		},
		// DOMAIN\sam, UPN and Kerberos names.
		{
			name:    "DOMAIN\\sam under the NetBIOS domain, any case",
			ref:     &adjoinv1.EntityRef{SamAccountName: `theshire\PGUSTAVO`},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire\pgustavo`, wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "DOMAIN\\sam under the DNS domain",
			ref:     &adjoinv1.EntityRef{SamAccountName: `THESHIRE.LOCAL\pgustavo`},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire.local\pgustavo`, wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "sam with a separate domain field",
			ref:     &adjoinv1.EntityRef{SamAccountName: "sbeavers", Domain: "THESHIRE"},
			wantKey: sidSbeavers, wantBy: bySAM, wantValue: `theshire\sbeavers`, wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "domain inside the sam wins over the domain field",
			ref:     &adjoinv1.EntityRef{SamAccountName: `THESHIRE\sbeavers`, Domain: "NT AUTHORITY"},
			wantKey: sidSbeavers, wantBy: bySAM, wantValue: `theshire\sbeavers`, wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "UPN, any case",
			ref:     &adjoinv1.EntityRef{Upn: "PGustavo@TheShire.Local"},
			wantKey: sidPgustavo, wantBy: byUPN, wantValue: "pgustavo@theshire.local", wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "4769 TargetUserName sam@REALM given as the sam",
			ref:     &adjoinv1.EntityRef{SamAccountName: "pgustavo@THESHIRE.LOCAL"},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: `theshire.local\pgustavo`, wantCertainty: certaintyDomainSAM,
		},
		{
			name:    "Kerberos sam@NetBIOS realm given as the UPN",
			ref:     &adjoinv1.EntityRef{Upn: "wardog@THESHIRE"},
			wantKey: sidWardog, wantBy: byUPN, wantValue: `theshire\wardog`, wantCertainty: certaintyDomainSAM,
			wantTried: []string{"upn:wardog@theshire"},
		},
		{
			name:    "computer account by DOMAIN\\sam$",
			ref:     &adjoinv1.EntityRef{SamAccountName: `THESHIRE\MORDORDC$`},
			wantKey: sidMordorDC, wantBy: bySAM, wantValue: `theshire\mordordc$`, wantCertainty: certaintyDomainSAM,
		},
		// Host names.
		{
			name:    "FQDN, any case, trailing dot",
			ref:     &adjoinv1.EntityRef{DnsHostName: "workstation6.THESHIRE.local."},
			wantKey: sidWS6, wantBy: byFQDN, wantValue: "workstation6.theshire.local", wantCertainty: certaintyFQDN,
		},
		{
			name:    "FQDN beats NetBIOS name",
			ref:     &adjoinv1.EntityRef{DnsHostName: "MORDORDC.theshire.local", NetbiosName: "WORKSTATION6"},
			wantKey: sidMordorDC, wantBy: byFQDN, wantValue: "mordordc.theshire.local", wantCertainty: certaintyFQDN,
		},
		{
			name:    "NetBIOS name",
			ref:     &adjoinv1.EntityRef{NetbiosName: "WORKSTATION6"},
			wantKey: sidWS6, wantBy: byNetBIOS, wantValue: "workstation6", wantCertainty: certaintyNetBIOS,
		},
		{
			name:    "NetBIOS name with trailing $ (machine account)",
			ref:     &adjoinv1.EntityRef{NetbiosName: "WORKSTATION6$"},
			wantKey: sidWS6, wantBy: byNetBIOS, wantValue: "workstation6", wantCertainty: certaintyNetBIOS,
		},
		{
			name:    "NetBIOS name derived from sAMAccountName when the entity has none",
			ref:     &adjoinv1.EntityRef{NetbiosName: "workstation5"},
			wantKey: sidWS5, wantBy: byNetBIOS, wantValue: "workstation5", wantCertainty: certaintyNetBIOS,
		},
		{
			name:    "FQDN in an unknown domain falls back to its first label",
			ref:     &adjoinv1.EntityRef{DnsHostName: "WORKSTATION6.elsewhere.test"},
			wantKey: sidWS6, wantBy: byNetBIOS, wantValue: "workstation6", wantCertainty: certaintyNetBIOS,
			wantTried: []string{"fqdn:workstation6.elsewhere.test"},
		},
		{
			name:    "unknown SID falls back to the FQDN",
			ref:     &adjoinv1.EntityRef{Sid: unknownSID, DnsHostName: "WEC.theshire.local"},
			wantKey: sidWEC, wantBy: byFQDN, wantValue: "wec.theshire.local", wantCertainty: certaintyFQDN,
			wantTried: []string{"sid:" + unknownSID},
		},
		{
			name:      "a user has no host names",
			ref:       &adjoinv1.EntityRef{NetbiosName: "pgustavo"},
			wantBy:    byNone,
			wantTried: []string{"netbios:pgustavo"},
		},
		// Bare names.
		{
			name:    "bare sam when unique",
			ref:     &adjoinv1.EntityRef{SamAccountName: "PGUSTAVO"},
			wantKey: sidPgustavo, wantBy: bySAM, wantValue: "pgustavo", wantCertainty: certaintyBareSAM,
		},
		{
			name:    "bare computer sam with $",
			ref:     &adjoinv1.EntityRef{SamAccountName: "MORDORDC$"},
			wantKey: sidMordorDC, wantBy: bySAM, wantValue: "mordordc$", wantCertainty: certaintyBareSAM,
		},
		{
			name:    "names before the bare sam",
			ref:     &adjoinv1.EntityRef{SamAccountName: "wardog", NetbiosName: "WORKSTATION5"},
			wantKey: sidWS5, wantBy: byNetBIOS, wantValue: "workstation5", wantCertainty: certaintyNetBIOS,
		},
		{
			name:      "unknown bare sam",
			ref:       &adjoinv1.EntityRef{SamAccountName: "frodo"},
			wantBy:    byNone,
			wantTried: []string{"sam:frodo"},
		},
		// Nothing matches: every name is recorded, in order of trust.
		{
			name: "nothing matches",
			ref: &adjoinv1.EntityRef{
				Sid: unknownSID, SamAccountName: `THESHIRE\frodo`, Upn: "frodo@theshire.local",
				DnsHostName: "BAGEND.theshire.local", NetbiosName: "BAGEND", Ip: "172.18.39.9",
			},
			wantBy: byNone,
			wantTried: []string{
				"sid:" + unknownSID, `sam:theshire\frodo`, "upn:frodo@theshire.local", `sam:theshire.local\frodo`,
				"fqdn:bagend.theshire.local", "netbios:bagend", "ip:172.18.39.9",
			},
		},
		{
			name:   "empty reference",
			ref:    &adjoinv1.EntityRef{},
			wantBy: byNone,
		},
		{
			name:   "nil reference",
			ref:    nil,
			wantBy: byNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ix.Resolve(tt.ref)
			if got := keyOf(m); got != tt.wantKey {
				t.Fatalf("Resolve(%v) entity = %q, want %q (tried %q)", tt.ref, got, tt.wantKey, m.Tried)
			}
			if m.By != tt.wantBy {
				t.Errorf("By = %s, want %s", m.By, tt.wantBy)
			}
			if m.Value != tt.wantValue {
				t.Errorf("Value = %q, want %q", m.Value, tt.wantValue)
			}
			if m.Certainty != tt.wantCertainty {
				t.Errorf("Certainty = %v, want %v", m.Certainty, tt.wantCertainty)
			}
			if !slices.Equal(m.Tried, tt.wantTried) {
				t.Errorf("Tried = %q, want %q", m.Tried, tt.wantTried)
			}
		})
	}
}

// The certainty of a match falls with the order of trust.
func TestCertaintyOrder(t *testing.T) {
	t.Parallel()
	order := []float64{certaintyID, certaintyDomainSAM, certaintyFQDN, certaintyNetBIOS, certaintyBareSAM}
	for i := 1; i < len(order); i++ {
		if order[i] >= order[i-1] {
			t.Errorf("certainty %d (%v) >= certainty %d (%v)", i, order[i], i-1, order[i-1])
		}
	}
}
