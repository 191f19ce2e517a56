package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOnly(t *testing.T) {
	t.Setenv("ADJOIN_TEST_SECRET", "s3cret")
	s := New("test")
	var secret, plain string
	s.String(&plain, "test-plain", "", "a flag")
	s.EnvOnly(&secret, "test-secret", "a secret")
	if err := s.Parse(nil, nil); err != nil {
		t.Fatal(err)
	}
	if secret != "s3cret" {
		t.Errorf("secret = %q, want it from ADJOIN_TEST_SECRET", secret)
	}
	if err := s.Parse([]string{"--test-secret=x"}, nil); err == nil {
		t.Error("--test-secret accepted as a flag")
	}
	if len(s.Defs()) != 1 || len(s.EnvOnlyDefs()) != 1 || s.EnvOnlyDefs()[0].Env != "ADJOIN_TEST_SECRET" || s.EnvOnlyDefs()[0].Flag != "" {
		t.Errorf("defs %v, env-only %v", s.Defs(), s.EnvOnlyDefs())
	}
	var b bytes.Buffer
	s.Usage(&b)
	if !strings.Contains(b.String(), "ADJOIN_TEST_SECRET (environment only)") {
		t.Errorf("usage does not list the secret:\n%s", b.String())
	}
}

func TestSplitList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{{"", nil}, {" , ,", nil}, {"a", []string{"a"}}, {" /var/log/*.json , THESHIRE\\honey,, 10.0.0.0/8 ", []string{"/var/log/*.json", `THESHIRE\honey`, "10.0.0.0/8"}}} {
		if got := SplitList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDefaultsIgnoreTheEnvironment(t *testing.T) {
	t.Setenv("ADJOIN_TEST_EVERY", "1h")
	t.Setenv("ADJOIN_TEST_SECRET", "s3cret")
	var c struct {
		every        time.Duration
		n            int
		name, secret string
		on           bool
	}
	Defaults(func(s *Set) {
		s.Duration(&c.every, "test-every", time.Minute, "")
		s.Int(&c.n, "test-n", 7, "")
		s.String(&c.name, "test-name", "x", "")
		s.Bool(&c.on, "test-on", true, "")
		s.EnvOnly(&c.secret, "test-secret", "")
	})
	if c.every != time.Minute || c.n != 7 || c.name != "x" || !c.on || c.secret != "" {
		t.Errorf("defaults %+v, want the definitions' defaults and no environment", c)
	}
}
