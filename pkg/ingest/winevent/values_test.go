package winevent

import (
	"testing"
)

func TestParseHex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "otrf short", in: "0x17", want: 0x17},
		{name: "evtx padded", in: "0x00000017", want: 0x17},
		{name: "upper prefix and digits", in: "0X1FFFFF", want: 0x1fffff},
		{name: "mixed case digits", in: "0x1fFfFf", want: 0x1fffff},
		{name: "logon id", in: "0x824909", want: 0x824909},
		{name: "padded logon id", in: "0x000000000266e045", want: 0x266e045},
		{name: "zero", in: "0x0", want: 0},
		{name: "max", in: "0xffffffffffffffff", want: 1<<64 - 1},
		{name: "decimal", in: "4624", want: 4624},
		{name: "decimal zero", in: "0", want: 0},
		{name: "spaces trimmed", in: " 0x10 ", want: 0x10},
		{name: "empty", in: "", wantErr: true},
		{name: "bare prefix", in: "0x", wantErr: true},
		{name: "dash placeholder", in: "-", wantErr: true},
		{name: "not hex", in: "0xZZ", wantErr: true},
		{name: "hex digits without prefix", in: "1f", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "negative hex", in: "0x-1", wantErr: true},
		{name: "overflow", in: "0x1ffffffffffffffff", wantErr: true},
		{name: "underscore", in: "0x1_0", wantErr: true},
		{name: "word", in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseHex(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseHex(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseHex(%q) = %#x, want %#x", tt.in, got, tt.want)
			}
		})
	}
}

func TestStripMappedIPv4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "kerberos mapped", in: "::ffff:172.18.39.5", want: "172.18.39.5"},
		{name: "upper case prefix", in: "::FFFF:10.23.23.9", want: "10.23.23.9"},
		{name: "spaces", in: "  ::ffff:172.18.39.6 ", want: "172.18.39.6"},
		{name: "plain ipv4", in: "172.18.39.5", want: "172.18.39.5"},
		{name: "ipv6 loopback", in: "::1", want: "::1"},
		{name: "link local", in: "fe80::1c4d:2e8f:8c1d:5f2a", want: "fe80::1c4d:2e8f:8c1d:5f2a"},
		{name: "mapped hex form left alone", in: "::ffff:ac12:2705", want: "::ffff:ac12:2705"},
		{name: "prefix only", in: "::ffff:", want: "::ffff:"},
		{name: "mapped garbage left alone", in: "::ffff:not-an-ip", want: "::ffff:not-an-ip"},
		{name: "dash placeholder", in: "-", want: ""},
		{name: "dash with spaces", in: " - ", want: ""},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := StripMappedIPv4(tt.in); got != tt.want {
				t.Errorf("StripMappedIPv4(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClientAddress(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:172.18.39.5": "172.18.39.5", "172.18.39.5": "172.18.39.5", "fd00::2": "fd00::2",
		"-": "", "": "", "127.0.0.1": "", "127.0.0.2": "", "::1": "", "::ffff:127.0.0.1": "", "0.0.0.0": "", "::": "",
		"WORKSTATION5": "WORKSTATION5",
	} {
		if got := ClientAddress(in); got != want {
			t.Errorf("ClientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
