package ldapsource

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

const (
	user     = adjoinv1.EntityKind_ENTITY_KIND_USER
	computer = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER

	// S1 (2020-08-05) SIDs from the OTRF data, in objectSid's binary form, base64.
	pgustavoSIDb64 = "AQUAAAAAAAUVAAAAAD2/2q2SSIhGd/U5UAQAAA==" // ...972388166-1104
	ws5SIDb64      = "AQUAAAAAAAUVAAAAAD2/2q2SSIhGd/U5WQQAAA==" // ...972388166-1113
	s1Domain       = "S-1-5-21-3669966080-2286457517-972388166"
)

// theshire is the record most tests start from: ldifde output for pgustavo, with a version
// header, a comment, changetype, a folded DN and binary objectSid / objectGUID.
const theshire = `version: 1

# pgustavo, as ldifde -f writes it
dn: CN=Gustavo Pedro,OU=DomainUsers,
 DC=theshire,DC=local
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Gustavo Pedro
distinguishedName: CN=Gustavo Pedro,OU=DomainUsers,DC=theshire,DC=local
displayName: Gustavo Pedro
objectGUID:: qvYxEQec0RH3nwDAT8Lc0g==
userAccountControl: 512
objectSid:: ` + pgustavoSIDb64 + `
sAMAccountName: pgustavo
userPrincipalName: pgustavo@theshire.local
whenChanged: 20200805061002.0Z
`

func pgustavo() *adjoinv1.Entity {
	return &adjoinv1.Entity{
		Key:                "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2",
		Kind:               user,
		Sid:                s1Domain + "-1104",
		ObjectGuid:         "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2",
		SamAccountName:     "pgustavo",
		NetbiosDomain:      "THESHIRE",
		DnsDomain:          "theshire.local",
		Upn:                "pgustavo@theshire.local",
		DisplayName:        "Gustavo Pedro",
		DistinguishedName:  "CN=Gustavo Pedro,OU=DomainUsers,DC=theshire,DC=local",
		UserAccountControl: 512,
		WhenChanged:        timestamppb.New(time.Date(2020, 8, 5, 6, 10, 2, 0, time.UTC)),
		Source:             "ldif:test",
	}
}

func with(e *adjoinv1.Entity, edit func(*adjoinv1.Entity)) *adjoinv1.Entity {
	edit(e)
	return e
}

func TestParseLDIF(t *testing.T) {
	t.Parallel()
	opts := Options{Source: "ldif:test"}
	tests := []struct {
		name string
		in   string
		opts *Options
		want []*adjoinv1.Entity
	}{
		{name: "empty input", in: ""},
		{name: "only comments and version", in: "version: 1\n# nothing\n #folded comment\n\n"},
		{name: "ldifde user", in: theshire, want: []*adjoinv1.Entity{pgustavo()}},
		{
			name: "CRLF and no blank line after version",
			in:   strings.ReplaceAll(strings.Replace(theshire, "version: 1\n\n", "version: 1\n", 1), "\n", "\r\n"),
			want: []*adjoinv1.Entity{pgustavo()},
		},
		{
			name: "NetBIOS domain from options",
			in:   theshire,
			opts: &Options{NetBIOSDomain: "shire", Source: "ldif:test"},
			want: []*adjoinv1.Entity{with(pgustavo(), func(e *adjoinv1.Entity) { e.NetbiosDomain = "SHIRE" })},
		},
		{
			name: "disabled user, text SID, no GUID",
			in:   "dn: CN=x,DC=theshire,DC=local\nobjectClass: user\nobjectSid: s-1-5-21-3669966080-2286457517-972388166-1106\nuserAccountControl: 514\n",
			want: []*adjoinv1.Entity{{
				Key: s1Domain + "-1106", Kind: user, Sid: s1Domain + "-1106",
				NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DistinguishedName: "CN=x,DC=theshire,DC=local",
				UserAccountControl: 514, Disabled: true, Source: "ldif:test",
			}},
		},
		{
			name: "admin by adminCount, GUID as text with braces",
			in:   "dn: CN=wardog,CN=Users,DC=theshire,DC=local\nobjectClass: user\nobjectGUID: {1131F6AA-9C07-11D1-F79F-00C04FC2DCD2}\nadminCount: 1\n",
			want: []*adjoinv1.Entity{{
				Key: "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2", Kind: user, ObjectGuid: "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2",
				NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DistinguishedName: "CN=wardog,CN=Users,DC=theshire,DC=local",
				Privileged: true, Source: "ldif:test",
			}},
		},
		{
			name: "admin by folded memberOf; look-alike group is not",
			in: "dn: CN=a,DC=theshire,DC=local\nobjectClass: user\nobjectSid:: " + pgustavoSIDb64 + "\n" +
				"memberOf: CN=Domain Admins Helpers,CN=Users,DC=theshire,DC=local\n" +
				"memberOf: cn=domain ad\n mins,CN=Users,DC=theshire,DC=local\n",
			want: []*adjoinv1.Entity{{
				Key: s1Domain + "-1104", Kind: user, Sid: s1Domain + "-1104",
				NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DistinguishedName: "CN=a,DC=theshire,DC=local",
				MemberOf:   []string{"CN=Domain Admins Helpers,CN=Users,DC=theshire,DC=local", "cn=domain admins,CN=Users,DC=theshire,DC=local"},
				Privileged: true, Source: "ldif:test",
			}},
		},
		{
			name: "computer with SPNs; groups, OUs and the domain skipped",
			in: "dn: DC=theshire,DC=local\nobjectClass: top\nobjectClass: domain\nobjectClass: domainDNS\nobjectSid:: AQQAAAAAAAUVAAAAAD2/2q2SSIhGd/U5\n\n" +
				"dn: OU=Workstations,DC=theshire,DC=local\nobjectClass: organizationalUnit\n\n" +
				"dn: CN=Domain Admins,CN=Users,DC=theshire,DC=local\nobjectClass: group\nadminCount: 1\n\n\n" +
				"dn: CN=WORKSTATION5,OU=Workstations,DC=theshire,DC=local\nobjectClass: top\nobjectClass: person\n" +
				"objectClass: organizationalPerson\nobjectClass: user\nobjectClass: computer\n" +
				"sAMAccountName: WORKSTATION5$\ndNSHostName: WORKSTATION5.theshire.local\n" +
				"servicePrincipalName: HOST/WORKSTATION5.theshire.local\nservicePrincipalName: HOST/WORKSTATION5\n" +
				"objectSid;binary:: " + ws5SIDb64 + "\nuserAccountControl: 4096\nsomeUnknownAttribute:: AAEC\n",
			want: []*adjoinv1.Entity{{
				Key: s1Domain + "-1113", Kind: computer, Sid: s1Domain + "-1113",
				SamAccountName: "WORKSTATION5$", NetbiosName: "WORKSTATION5", DnsHostName: "WORKSTATION5.theshire.local",
				NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local",
				DistinguishedName:     "CN=WORKSTATION5,OU=Workstations,DC=theshire,DC=local",
				ServicePrincipalNames: []string{"HOST/WORKSTATION5.theshire.local", "HOST/WORKSTATION5"},
				UserAccountControl:    4096, Source: "ldif:test",
			}},
		},
		{
			name: "base64 text values: UTF-8 display name and text SID",
			in:   "dn:: Q049R3VzdGF2byxEQz10aGVzaGlyZSxEQz1sb2NhbA==\nobjectClass: user\ndisplayName:: R3VzdGF2byBQZWRybyDigJQgw7w=\nobjectSid:: Uy0xLTUtMjEtMzY2OTk2NjA4MC0yMjg2NDU3NTE3LTk3MjM4ODE2Ni0xMTA2\n",
			want: []*adjoinv1.Entity{{
				Key: s1Domain + "-1106", Kind: user, Sid: s1Domain + "-1106", DisplayName: "Gustavo Pedro — ü",
				NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local", DistinguishedName: "CN=Gustavo,DC=theshire,DC=local",
				Source: "ldif:test",
			}},
		},
		{
			name: "escaped DN, distinguishedName absent",
			in:   "dn: CN=Smith\\, J,OU=A\\2CB,DC=Corp , DC=Example,DC=test\nobjectClass: user\nobjectSid: S-1-5-21-1-2-3-1000\n",
			want: []*adjoinv1.Entity{{
				Key: "S-1-5-21-1-2-3-1000", Kind: user, Sid: "S-1-5-21-1-2-3-1000",
				NetbiosDomain: "CORP", DnsDomain: "corp.example.test",
				DistinguishedName: "CN=Smith\\, J,OU=A\\2CB,DC=Corp , DC=Example,DC=test", Source: "ldif:test",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			got, err := ParseLDIF(strings.NewReader(tt.in), o)
			if err != nil {
				t.Fatalf("ParseLDIF: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entities, want %d: %v", len(got), len(tt.want), got)
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Errorf("entity %d:\n got %v\nwant %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseLDIFErrors(t *testing.T) {
	t.Parallel()
	const head = "dn: CN=x,DC=theshire,DC=local\nobjectClass: user\n" // lines 1-2
	tests := []struct {
		name     string
		in       string
		wantErr  error
		wantLine int
		wantText string
	}{
		{name: "bad base64", in: head + "objectSid:: AQUAAAAA*AAUV\n", wantErr: ErrSyntax, wantLine: 3, wantText: "bad base64"},
		{name: "bad base64 in ignored attribute", in: head + "comment:: !!\n", wantErr: ErrSyntax, wantLine: 3, wantText: "comment"},
		{name: "missing dn", in: "version: 1\n\n# c\nobjectClass: user\nobjectSid: S-1-5-18\n", wantErr: ErrSyntax, wantLine: 4, wantText: "want a dn line"},
		{name: "missing dn after a record", in: head + "objectSid: S-1-5-21-1-2-3-4\n\nsAMAccountName: x\n", wantErr: ErrSyntax, wantLine: 5},
		{name: "no SID or GUID", in: "# first\n\n" + head + "sAMAccountName: x\n", wantErr: ErrNoIdentity, wantLine: 3, wantText: `dn "CN=x,DC=theshire,DC=local"`},
		{name: "no SID or GUID on a computer", in: "dn: CN=c\nobjectClass: computer\n", wantErr: ErrNoIdentity, wantLine: 1},
		{name: "continuation first", in: " dn: x\n", wantErr: ErrSyntax, wantLine: 1, wantText: "continuation"},
		{name: "continuation after blank", in: head + "objectSid: S-1-5-18\n\n more\n", wantErr: ErrSyntax, wantLine: 5},
		{name: "no colon", in: head + "objectSid S-1-5-18\n", wantErr: ErrSyntax, wantLine: 3, wantText: "attribute: value"},
		{name: "bad attribute name", in: head + "obj ectSid: S-1-5-18\n", wantErr: ErrSyntax, wantLine: 3},
		{name: "version 2", in: "version: 2\n" + head, wantErr: ErrSyntax, wantLine: 1, wantText: "version"},
		{name: "changetype modify", in: head + "changetype: modify\n", wantErr: ErrSyntax, wantLine: 3, wantText: "modify"},
		{name: "two dns", in: head + "dn: CN=y\n", wantErr: ErrSyntax, wantLine: 3, wantText: "second dn"},
		{name: "SID revision", in: head + "objectSid:: AgEAAAAAAAUSAAAA\n", wantErr: ErrValue, wantLine: 3, wantText: "revision 2"},
		{name: "SID length", in: head + "objectSid:: AQUAAAAAAAUVAAAA\n", wantErr: ErrValue, wantLine: 3, wantText: "length 12 bytes, want 28"},
		{name: "SID text", in: head + "objectSid: S-1-x\n", wantErr: ErrValue, wantLine: 3, wantText: "not a SID"},
		{name: "GUID length", in: head + "objectGUID:: AAEC\n", wantErr: ErrValue, wantLine: 3, wantText: "length 3 bytes, want 16"},
		{name: "two SIDs", in: head + "objectSid: S-1-5-18\nobjectSid: S-1-5-19\n", wantErr: ErrValue, wantLine: 4, wantText: "2 values"},
		{name: "userAccountControl", in: head + "objectSid: S-1-5-18\nuserAccountControl: 0x200\n", wantErr: ErrValue, wantLine: 4, wantText: "userAccountControl"},
		{name: "adminCount", in: head + "objectSid: S-1-5-18\n\n" + strings.Replace(head, "x", "y", 1) + "objectSid: S-1-5-19\nadminCount: yes\n", wantErr: ErrValue, wantLine: 8, wantText: "adminCount"},
		{name: "whenChanged", in: head + "objectSid: S-1-5-18\nwhenChanged: 2020-08-05\n", wantErr: ErrValue, wantLine: 4, wantText: "generalized time"},
		{name: "display name not UTF-8", in: head + "objectSid: S-1-5-18\ndisplayName:: /w==\n", wantErr: ErrValue, wantLine: 4, wantText: "UTF-8"},
		{name: "URL value", in: head + "objectSid:< file:///etc/passwd\n", wantErr: ErrValue, wantLine: 3, wantText: "URL"},
		{name: "UTF-16", in: "\xff\xfed\x00n\x00:\x00", wantErr: ErrSyntax, wantLine: 1, wantText: "UTF-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLDIF(strings.NewReader(tt.in), Options{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseLDIF error = %v, want %v (entities %v)", err, tt.wantErr, got)
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LineError", err)
			}
			if le.Line != tt.wantLine {
				t.Errorf("error %q at line %d, want line %d", err, le.Line, tt.wantLine)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
			if got != nil {
				t.Errorf("got entities %v with an error", got)
			}
		})
	}
}
