package ldapsource

import (
	"os"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// demoLDIF is the directory the demo deployment loads for the OTRF Shire lab (scenario S1).
const demoLDIF = "../../../adjoin/demo/theshire.ldif"

func TestDemoLDIF(t *testing.T) {
	t.Parallel()
	f, err := os.Open(demoLDIF)
	if err != nil {
		t.Fatalf("open demo directory: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	got, err := ParseLDIF(f, Options{NetBIOSDomain: "THESHIRE", Source: "ldif:theshire.ldif"})
	if err != nil {
		t.Fatalf("ParseLDIF(%s): %v", demoLDIF, err)
	}
	byName := make(map[string]int)
	for i, e := range got {
		if _, dup := byName[e.GetSamAccountName()]; dup {
			t.Errorf("%s appears twice", e.GetSamAccountName())
		}
		byName[e.GetSamAccountName()] = i
		if e.GetDnsDomain() != "theshire.local" || e.GetNetbiosDomain() != "THESHIRE" || e.GetKey() != e.GetSid() {
			t.Errorf("%s: domain %q/%q, key %q, sid %q", e.GetSamAccountName(), e.GetDnsDomain(), e.GetNetbiosDomain(), e.GetKey(), e.GetSid())
		}
	}
	const domainSID = "S-1-5-21-3669966080-2286457517-972388166"
	want := []struct {
		sam, sid, dnsHostName string
		kind                  adjoinv1.EntityKind
		privileged            bool
	}{
		{sam: "pgustavo", sid: domainSID + "-1104", kind: user, privileged: true},
		{sam: "wardog", sid: domainSID + "-500", kind: user, privileged: true},
		{sam: "sbeavers", sid: domainSID + "-1106", kind: user},
		{sam: "MORDORDC$", sid: domainSID + "-1000", kind: computer, dnsHostName: "MORDORDC.theshire.local"},
		{sam: "WEC$", sid: domainSID + "-1111", kind: computer, dnsHostName: "WEC.theshire.local"},
		{sam: "WORKSTATION6$", sid: domainSID + "-1112", kind: computer, dnsHostName: "WORKSTATION6.theshire.local"},
		{sam: "WORKSTATION5$", sid: domainSID + "-1113", kind: computer, dnsHostName: "WORKSTATION5.theshire.local"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d entities, want %d (the domain object must be skipped)", len(got), len(want))
	}
	for _, w := range want {
		i, ok := byName[w.sam]
		if !ok {
			t.Errorf("%s missing", w.sam)
			continue
		}
		e := got[i]
		kind := e.GetKind()
		if e.GetSid() != w.sid || kind != w.kind || e.GetDnsHostName() != w.dnsHostName || e.GetPrivileged() != w.privileged {
			t.Errorf("%s: sid %s, %s, dNSHostName %q, privileged %v; want %s, %s, %q, %v",
				w.sam, e.GetSid(), kind, e.GetDnsHostName(), e.GetPrivileged(), w.sid, w.kind, w.dnsHostName, w.privileged)
		}
		if kind == computer && e.GetNetbiosName()+"$" != w.sam {
			t.Errorf("%s: NetBIOS name %q", w.sam, e.GetNetbiosName())
		}
	}
}
