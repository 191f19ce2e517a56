package intake

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestServiceConfigDefaults: the defaults are the flags' and are valid; every bound is explicit,
// so a zero is refused by name rather than read as a default.
func TestServiceConfigDefaults(t *testing.T) {
	t.Parallel()
	def := DefaultServiceConfig("127.0.0.1:8081")
	if def.HTTPAddr != "127.0.0.1:8081" || def.MaxLines != defaultMaxLines || def.MaxClockSkew != DefaultMaxClockSkew ||
		def.ShutdownGrace != 15*time.Second || def.MaxDeliveries < 1 || def.SyslogMaxMessage < 1 || def.TailPoll != time.Second {
		t.Fatalf("DefaultServiceConfig = %+v, not the flags' defaults", def)
	}
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	tests := []struct {
		name    string
		change  func(*ServiceConfig)
		wantErr string
	}{
		{"max-lines 0", func(c *ServiceConfig) { c.MaxLines = 0 }, "max-lines: 0"},
		{"max-lines 1", func(c *ServiceConfig) { c.MaxLines = 1 }, ""},
		{"max-clock-skew 0", func(c *ServiceConfig) { c.MaxClockSkew = 0 }, "max-clock-skew: 0s"},
		{"max-deliveries 0", func(c *ServiceConfig) { c.MaxDeliveries = 0 }, "max-deliveries: 0"},
		{"syslog-max-message 0, syslog off", func(c *ServiceConfig) { c.SyslogMaxMessage = 0 }, ""},
		{"syslog-max-message 0, syslog on", func(c *ServiceConfig) { c.SyslogMaxMessage, c.SyslogUDPAddr = 0, "127.0.0.1:5514" }, "syslog-max-message: 0"},
		{"shutdown-grace 0", func(c *ServiceConfig) { c.ShutdownGrace = 0 }, "shutdown-grace: 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultServiceConfig("127.0.0.1:8081")
			tt.change(&c)
			err := c.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestHandlerWithoutBoundsRefuses: a Handler built by hand without --max-lines or
// --max-clock-skew answers 500 naming them, instead of reading a body without a bound.
func TestHandlerWithoutBoundsRefuses(t *testing.T) {
	t.Parallel()
	h := &Handler{Service: "dcingest", Parse: ParseWindows, Log: zaptest.NewLogger(t), MaxClockSkew: DefaultMaxClockSkew} // no MaxLines
	code, resp := post(t, h, lineMinimalNXLog+"\n", postOpts{})
	if code != 500 || !strings.Contains(resp.Error, "max-lines 0") {
		t.Fatalf("%d %q, want 500 naming max-lines", code, resp.Error)
	}
}
