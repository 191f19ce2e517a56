package adjoin

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/correlator"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// TestDevConfigsAreDefaults: `adjoin dev` runs each service with its DefaultConfig, changed
// only where one process on one host must be; any other difference (a second default creeping
// back in) fails here until it is declared below with its reason.
func TestDevConfigsAreDefaults(t *testing.T) {
	var lns [5]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		lns[i] = ln
	}
	var dev DevConfig // as `adjoin dev` with no flags
	config.Defaults(dev.flags)
	got := devServices(dev, "nats://127.0.0.1:4999", lns, metrics.New())
	// Every declared override: the embedded server, the listeners StartDev opened, the shared
	// metrics registry, no authentication, and the demo directory.
	for _, tt := range []struct {
		name      string
		got, want any
		declared  []string
	}{
		{"dcingest", got.dc, dcingest.DefaultConfig(), []string{"NATS.ConnectOptions.URL", "HTTP.Listener", "HTTP.Auth.Insecure", "Metrics", "LDIFData"}},
		{"endpointingest", got.ep, endpointingest.DefaultConfig(), []string{"NATS.ConnectOptions.URL", "HTTP.Listener", "HTTP.Auth.Insecure", "Metrics"}},
		{"correlator", got.co, correlator.DefaultConfig(), []string{"NATS.ConnectOptions.URL", "Listener", "Metrics"}},
		{"badge", got.bd, badge.DefaultConfig(), []string{"NATS.ConnectOptions.URL", "Listener", "Security.Insecure", "HTTPListener", "Metrics", "Console"}},
	} {
		diff := fieldDiff("", reflect.ValueOf(tt.got), reflect.ValueOf(tt.want))
		if !slices.Equal(diff, tt.declared) {
			t.Errorf("%s: adjoin dev differs from DefaultConfig in %q, declared %q", tt.name, diff, tt.declared)
		}
	}
}

func TestFieldDiff(t *testing.T) {
	type inner struct{ A, B int }
	type outer struct {
		In  inner
		S   []byte
		P   *int
		hid int
	}
	one := 1
	got := fieldDiff("", reflect.ValueOf(outer{In: inner{B: 1}, S: []byte("x"), P: &one, hid: 1}), reflect.ValueOf(outer{}))
	if want := []string{"In.B", "S", "P"}; !slices.Equal(got, want) {
		t.Errorf("fieldDiff = %q, want %q", got, want)
	}
}

// fieldDiff lists the exported fields, by dotted path, whose values differ between a and b,
// two values of one struct type; nested structs are walked, anything else compared whole.
func fieldDiff(prefix string, a, b reflect.Value) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		path := prefix + f.Name
		if f.Type.Kind() == reflect.Struct {
			out = append(out, fieldDiff(path+".", a.Field(i), b.Field(i))...)
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, path)
		}
	}
	return out
}

// TestDevLocksDirAndNamesPortInUse: a second `adjoin dev` on the same data directory is refused
// with the first one's pid, and one on a NATS port in use names the port and the flag at once
// instead of waiting for a server that cannot start.
func TestDevLocksDirAndNamesPortInUse(t *testing.T) {
	s := startStack(t)
	_, err := StartDev(context.Background(), DevConfig{Dir: s.Dir, Host: "127.0.0.1", NATSPort: -1}, zap.NewNop())
	want := fmt.Sprintf("in use by another adjoin dev (pid %d)", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second adjoin dev on %s: %v, want an error containing %q", s.Dir, err, want)
	}
	u, err := url.Parse(s.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartDev(context.Background(), DevConfig{Dir: t.TempDir(), Host: "127.0.0.1", NATSPort: port}, zap.NewNop())
	want = fmt.Sprintf("--nats-port: port %d in use on 127.0.0.1", port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("adjoin dev on NATS port %d in use: %v, want an error containing %q", port, err, want)
	}
}
