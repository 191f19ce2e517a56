package entity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

func TestNormalizeSIDBounds(t *testing.T) {
	t.Parallel()
	fifteen := "S-1-5" + strings.Repeat("-4294967295", 15)
	tests := []struct {
		name, in, want string
	}{
		{name: "domain user", in: "s-1-5-21-3669966080-2286457517-972388166-1104", want: "S-1-5-21-3669966080-2286457517-972388166-1104"},
		{name: "well-known", in: "S-1-5-18", want: "S-1-5-18"},
		{name: "15 sub-authorities of 32 bits", in: fifteen, want: fifteen},
		{name: "16 sub-authorities", in: fifteen + "-1"},
		{name: "sub-authority over 32 bits", in: "S-1-5-21-4294967296"},
		{name: "authority of 48 bits", in: "S-1-281474976710655-1", want: "S-1-281474976710655-1"},
		{name: "authority over 48 bits", in: "S-1-281474976710656-1"},
		{name: "1 MiB of sub-authorities", in: "S-1-5" + strings.Repeat("-1", 1<<19)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := entity.NormalizeSID(tt.in); got != tt.want {
				t.Errorf("NormalizeSID(%.60q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The endpoint ingestor records an unresolved computer under HostNameKey(host from the event)
// and the badge service reads NameKeys(directory entity): for a hostile host name of 5,000
// bytes or 1 MiB both give the same short key, which a real bucket takes, and the connection
// stays up.
func TestHostNameKeyBounded(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	kv := srv.KV(t, natsx.BucketDevices)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range []int{5000, 1 << 20} {
		fqdn := strings.Repeat("W", n) + ".theshire.local"
		written := entity.HostNameKey(fqdn + "$")
		if len(written) > len("host.")+natsx.MaxToken+1 {
			t.Fatalf("HostNameKey of a %d-byte name is %d bytes", n, len(written))
		}
		read := entity.NameKeys(&adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: fqdn})
		if len(read) == 0 || read[0] != written {
			t.Fatalf("writer key %q, reader keys %q: they must meet", written, read)
		}
		if _, err := kv.Put(ctx, written, []byte("device")); err != nil {
			t.Fatalf("put %q: %v", written, err)
		}
		if e, err := kv.Get(ctx, read[0]); err != nil || string(e.Value()) != "device" {
			t.Fatalf("get %q: %v", read[0], err)
		}
		if st := srv.NC.Status(); st != nats.CONNECTED {
			t.Fatalf("connection %s after a %d-byte host name", st, n)
		}
	}
	long := strings.Repeat("u", 5000)
	if k := entity.UserNameKey(long, long); len(k) > 2*(natsx.MaxToken+1)+len("user./") {
		t.Errorf("UserNameKey of 5,000-byte names is %d bytes", len(k))
	}
	for _, name := range []string{"a..b", "..", "x.-"} {
		if k := entity.HostNameKey(name); k != "" {
			if _, err := kv.Put(ctx, k, []byte("device")); err != nil {
				t.Errorf("HostNameKey(%q) = %q, refused by the bucket: %v", name, k, err)
			}
		}
	}
}
