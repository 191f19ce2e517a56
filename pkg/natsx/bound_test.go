package natsx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

func TestBoundedTokens(t *testing.T) {
	t.Parallel()
	at := strings.Repeat("a", natsx.MaxToken)
	over := strings.Repeat("a", natsx.MaxToken+1)
	tests := []struct {
		name string
		fn   func(string) string
		in   string
		want string // "" with bounded: only the bounded shape is checked
		// bounded: the result is the 96-byte prefix of the safe form, '-' and 32 hex digits.
		bounded bool
	}{
		{name: "Token short", fn: natsx.Token, in: "Microsoft-Windows-Sysmon/Operational", want: "microsoft-windows-sysmon_operational"},
		{name: "Token empty", fn: natsx.Token, in: "", want: "_"},
		{name: "Token at the bound", fn: natsx.Token, in: at, want: at},
		{name: "Token over the bound", fn: natsx.Token, in: over, bounded: true},
		{name: "Token non-ASCII keeps one _ per character", fn: natsx.Token, in: "é.x", want: "__x"},
		{name: "KeyToken keeps case", fn: natsx.KeyToken, in: "S-1-5-21-1-2-3-1104", want: "S-1-5-21-1-2-3-1104"},
		{name: "KeyToken drops dots and wildcards", fn: natsx.KeyToken, in: "a.b*c>d e", want: "a_b_c_d_e"},
		{name: "KeyToken empty", fn: natsx.KeyToken, in: "", want: "_"},
		{name: "KeyToken 1 MiB", fn: natsx.KeyToken, in: strings.Repeat("X", 1<<20), bounded: true},
		{name: "KeyPart keeps an FQDN", fn: natsx.KeyPart, in: "WORKSTATION5.theshire.local", want: "WORKSTATION5.theshire.local"},
		{name: "KeyPart trims dots", fn: natsx.KeyPart, in: "..host.", want: "host"},
		{name: "KeyPart fills empty tokens", fn: natsx.KeyPart, in: "a..b...c", want: "a._.b._._.c"},
		{name: "KeyPart nothing left", fn: natsx.KeyPart, in: "...", want: ""},
		{name: "KeyPart 5000 bytes of labels", fn: natsx.KeyPart, in: strings.Repeat("ab.", 1700) + "x", bounded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.fn(tt.in)
			if !tt.bounded {
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
				return
			}
			if len(got) != natsx.MaxToken+1 || got[96] != '-' || !strings.HasPrefix(tt.in, got[:96]) {
				t.Errorf("got %q (%d bytes), want the 96-byte prefix, '-' and 32 hex digits", got, len(got))
			}
			if again := tt.fn(tt.in); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
			if other := tt.fn(tt.in + "y"); other == got {
				t.Errorf("a longer input gives the same bounded token %q", got)
			}
		})
	}
}

// A KV key and a subject made from a hostile 5,000-byte or 1 MiB name work against a real
// server, and the connection stays up; the same name unbounded is over the server's 4 KiB
// control line and would close the connection for good.
func TestBoundedKeysKeepTheConnection(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	kv := srv.KV(t, natsx.BucketDevices)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range []int{5000, 1 << 20} {
		name := strings.Repeat("h", n) + ".theshire.local"
		key := "host." + natsx.KeyPart(name)
		if _, err := kv.Put(ctx, key, []byte("record")); err != nil {
			t.Fatalf("put %d-byte name: %v", n, err)
		}
		e, err := kv.Get(ctx, "host."+natsx.KeyPart(name))
		if err != nil || string(e.Value()) != "record" {
			t.Fatalf("get %d-byte name: %v", n, err)
		}
		if _, err := srv.JS.Publish(ctx, natsx.SubjectEndpointEvents+"."+natsx.Token(name)+".1", []byte("{}")); err != nil {
			t.Fatalf("publish with a %d-byte channel: %v", n, err)
		}
		if st := srv.NC.Status(); st != nats.CONNECTED {
			t.Fatalf("after a %d-byte name the connection is %s", n, st)
		}
	}
}
