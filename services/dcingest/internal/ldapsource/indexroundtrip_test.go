package ldapsource

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	pkgdirectory "github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestDirectoryIndexRoundTripsLDIF stores every entity of the real LDIF exports in the shared
// directory index (pkg/directory), which keeps them in a compact form of its own, and checks
// that each reads back exactly as the parser produced it and resolves by its names.
func TestDirectoryIndexRoundTripsLDIF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		opts Options
	}{
		{name: "demo Shire lab", path: demoLDIF, opts: Options{NetBIOSDomain: "THESHIRE", Source: "ldif:theshire.ldif"}},
		{name: "Samba accounts", path: "../../../../pkg/ingest/sambaaudit/testdata/accounts.ldif", opts: Options{Source: "ldif:accounts.ldif"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open(tt.path)
			if err != nil {
				t.Fatalf("open %s: %v", tt.path, err)
			}
			t.Cleanup(func() { f.Close() })
			ents, err := ParseLDIF(f, tt.opts)
			if err != nil {
				t.Fatalf("ParseLDIF(%s): %v", tt.path, err)
			}
			if len(ents) == 0 {
				t.Fatalf("%s has no entities", tt.path)
			}
			ix := pkgdirectory.NewIndex()
			for _, e := range ents {
				ix.Put(e)
			}
			for _, e := range ents {
				want := proto.Clone(e).(*adjoinv1.Entity)
				want.Key = entity.Key(e)
				got, ok := ix.Get(want.GetKey())
				if !ok || !proto.Equal(got, want) {
					t.Errorf("Get(%s) = %v\nwant %v", want.GetKey(), got, want)
				}
				refs := []*adjoinv1.EntityRef{{Sid: e.GetSid()}, {ObjectGuid: e.GetObjectGuid()}, {Upn: e.GetUpn()}, {DnsHostName: e.GetDnsHostName()},
					{SamAccountName: e.GetSamAccountName(), Domain: e.GetNetbiosDomain()}}
				for _, ref := range refs {
					if proto.Equal(ref, &adjoinv1.EntityRef{}) || (ref.GetSamAccountName() != "" && ref.GetDomain() == "") {
						continue
					}
					if m := ix.Resolve(ref); m.Entity.GetKey() != want.GetKey() {
						t.Errorf("Resolve(%v) = %q, want %q", ref, m.Entity.GetKey(), want.GetKey())
					}
				}
				if dn := e.GetDistinguishedName(); dn != "" {
					if got, ok := ix.ByDN(dn); !ok || got.GetKey() != want.GetKey() {
						t.Errorf("ByDN(%q) = %v, %v; want %s", dn, got, ok, want.GetKey())
					}
				}
			}
		})
	}
}
