package dcingest

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

func TestSambaConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     SambaConfig
		wantErr string // "" for none
	}{
		{"off", SambaConfig{}, ""},
		{"log and DC", SambaConfig{Log: "/var/log/samba/log.samba, /var/log/samba/log.samba.old", DC: "dc1.corp.example.test"}, ""},
		{"short DC name", SambaConfig{Log: "/var/log/samba/log.samba", DC: "DC1"}, ""},
		{"DC alone, for HTTP posts", SambaConfig{DC: "dc1"}, ""},
		{"log without DC", SambaConfig{Log: "/var/log/samba/log.samba"}, "samba-dc: required with --samba-log"},
		{"DC not a host name", SambaConfig{Log: "/x", DC: "dc1 corp"}, `samba-dc: "dc1 corp" is not a host name`},
		{"DC a URL", SambaConfig{Log: "/x", DC: "ldap://dc1"}, `samba-dc: "ldap://dc1" is not a host name`},
		{"bad pattern", SambaConfig{Log: "/var/log/[samba", DC: "dc1"}, `samba-log: pattern "/var/log/[samba"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSambaFollowAndFormats(t *testing.T) {
	t.Parallel()
	if f := (SambaConfig{}).follow(); f != nil {
		t.Errorf("follow without --samba-log = %v", f)
	}
	f := SambaConfig{Log: "/a/*.log, /b/log.samba", DC: "dc1"}.follow()
	if len(f) != 1 || f[0].Name != "samba" || len(f[0].Patterns) != 2 || f[0].Parse == nil {
		t.Fatalf("follow = %+v", f)
	}
	line := []byte(`  {"timestamp": "2026-11-28T10:05:03.443775+0000", "type": "passwordChange", "passwordChange": {"eventId": 4724}}`)
	tests := []struct {
		name     string
		dc, host string
		wantHost string
		wantErr  string
	}{
		{"host from the query", "dc1", "dc2.corp.example.test", "dc2.corp.example.test", ""},
		{"host from --samba-dc", "dc1", "", "dc1", ""},
		{"no host", "", "", "", "host= is required"},
		{"bad host", "", "dc2/x", "", `host="dc2/x" is not a host name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			choose := SambaConfig{DC: tt.dc}.formats()[intake.SambaFormat]
			parse, err := choose(url.Values{"format": {"samba"}, "host": {tt.host}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := parse(line, "samba")
			if err != nil || ev.GetHost() != tt.wantHost {
				t.Fatalf("event host %q, %v; want %q", ev.GetHost(), err, tt.wantHost)
			}
			if _, err := parse([]byte("  samba version 4.17.12-Debian started."), "samba"); !errors.Is(err, intake.ErrSkip) {
				t.Errorf("text line: %v, want ErrSkip", err)
			}
		})
	}
}
