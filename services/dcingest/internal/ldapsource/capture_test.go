package ldapsource

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// capturedLDIF holds two entries exactly as MORDORDC returned them over LDAP in the OTRF
// captures, rewritten the way ldifde writes them (binary values in base64, changetype: add):
// sysmonsvc from otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.cap (S12) and the
// Domain Admins group from otrf/pcap/covenant_getdomaingroup_ldap_searchrequest_domain_admins_
// 2020-09-22141005.cap (S8). Attribute order is the order on the wire; no value was changed.
const capturedLDIF = `dn: CN=MS Sysmon,OU=DomainUsers,DC=theshire,DC=local
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: MS Sysmon
sn: MS
title: Service Account
givenName: Sysmon
distinguishedName: CN=MS Sysmon,OU=DomainUsers,DC=theshire,DC=local
instanceType: 4
whenCreated: 20201021043252.0Z
whenChanged: 20201021043252.0Z
displayName: MS Sysmon
uSNCreated: 12813
uSNChanged: 12818
department: IT Support
name: MS Sysmon
objectGUID:: MJPX3ge5lEuIDSG9IWyLIg==
userAccountControl: 66048
badPwdCount: 2
codePage: 0
countryCode: 0
badPasswordTime: 132478289936934054
lastLogoff: 0
lastLogon: 0
pwdLastSet: 132477283721518128
primaryGroupID: 513
objectSid:: AQUAAAAAAAUVAAAAEmt5io2mi/HMl2xqVgQAAA==
accountExpires: 9223372036854775807
logonCount: 0
sAMAccountName: sysmonsvc
sAMAccountType: 805306368
userPrincipalName: sysmonsvc@theshire.local
servicePrincipalName: Sysmon/theshire.local
objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=theshire,DC=local
dSCorePropagationData: 16010101000000.0Z

dn: CN=Domain Admins,CN=Users,DC=theshire,DC=local
changetype: add
objectClass: top
objectClass: group
cn: Domain Admins
description: Designated administrators of the domain
member: CN=Scott Michael,OU=DomainUsers,DC=theshire,DC=local
member: CN=Gustavo Pedro,OU=DomainUsers,DC=theshire,DC=local
member: CN=wardog,CN=Users,DC=theshire,DC=local
distinguishedName: CN=Domain Admins,CN=Users,DC=theshire,DC=local
instanceType: 4
whenCreated: 20200917151446.0Z
whenChanged: 20200917152958.0Z
uSNCreated: 12345
memberOf: CN=Denied RODC Password Replication Group,CN=Users,DC=theshire,DC=local
memberOf: CN=Administrators,CN=Builtin,DC=theshire,DC=local
uSNChanged: 12909
name: Domain Admins
objectGUID:: MP+mu/yrZkGyCV5u3Uk2aw==
objectSid:: AQUAAAAAAAUVAAAArxwN/FcFiz0woPFrAAIAAA==
adminCount: 1
sAMAccountName: Domain Admins
sAMAccountType: 268435456
groupType: -2147483646
objectCategory: CN=Group,CN=Schema,CN=Configuration,DC=theshire,DC=local
isCriticalSystemObject: TRUE
dSCorePropagationData: 20200917152958.0Z
dSCorePropagationData: 20200917151447.0Z
dSCorePropagationData: 16010101000416.0Z
`

// TestParseLDIFCapturedEntries parses real directory entries: the binary objectSid and
// objectGUID bytes are the DC's own, so this checks the decoding against AD, not against our
// own encoder.
func TestParseLDIFCapturedEntries(t *testing.T) {
	t.Parallel()
	got, err := ParseLDIF(strings.NewReader(capturedLDIF), Options{Source: "ldif:captured"})
	if err != nil {
		t.Fatalf("ParseLDIF: %v", err)
	}
	want := &adjoinv1.Entity{
		// Domain SID S-1-5-21-2323213074-4052461197-1785501644 is the one data/README.md
		// lists for S12, which the decoded value must reproduce.
		Key:                   "ded79330-b907-4b94-880d-21bd216c8b22",
		Kind:                  user,
		Sid:                   "S-1-5-21-2323213074-4052461197-1785501644-1110",
		ObjectGuid:            "ded79330-b907-4b94-880d-21bd216c8b22",
		SamAccountName:        "sysmonsvc",
		NetbiosDomain:         "THESHIRE",
		DnsDomain:             "theshire.local",
		Upn:                   "sysmonsvc@theshire.local",
		DisplayName:           "MS Sysmon",
		DistinguishedName:     "CN=MS Sysmon,OU=DomainUsers,DC=theshire,DC=local",
		ServicePrincipalNames: []string{"Sysmon/theshire.local"},
		UserAccountControl:    66048, // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
		WhenChanged:           timestamppb.New(time.Date(2020, 10, 21, 4, 32, 52, 0, time.UTC)),
		Source:                "ldif:captured",
	}
	if len(got) != 1 {
		t.Fatalf("got %d entities, want only sysmonsvc (the group is skipped): %v", len(got), got)
	}
	if !proto.Equal(got[0], want) {
		t.Errorf("got  %v\nwant %v", got[0], want)
	}
}
