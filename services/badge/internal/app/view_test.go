package app_test

import (
	"context"
	"fmt"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestViewSubscribe: subscribers hear of every change; one too slow to keep up is told to
// resend everything rather than silently missing keys, once for all it missed, and then hears
// of the changes after that.
func TestViewSubscribe(t *testing.T) {
	tests := []struct {
		name     string
		changes  int
		wantKeys int  // distinct entity keys received
		wantAll  bool // AllKeys received
	}{
		{"a few changes, each key", 3, 3, false},
		{"exactly the buffer", 1024, 1024, false},
		{"more than the buffer: merged into AllKeys", 5000, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := app.NewView()
			ch, stop := v.Subscribe()
			for i := range tt.changes {
				v.SetCounts(fmt.Sprint("key-", i), &adjoinv1.EntityCounts{})
			}
			stop()
			stop() // twice is harmless
			v.SetCounts("after-stop", nil)
			keys, all := map[string]bool{}, 0
			for k := range ch {
				if k == app.AllKeys {
					all++
					continue
				}
				keys[k] = true
			}
			if (all > 0) != tt.wantAll || (tt.wantKeys >= 0 && len(keys) != tt.wantKeys) {
				t.Errorf("got %d keys, AllKeys %d times; want %d, %v", len(keys), all, tt.wantKeys, tt.wantAll)
			}
			if all > 1 {
				t.Errorf("AllKeys %d times: each is a resend of everything; want once", all)
			}
			if last := fmt.Sprint("key-", tt.changes-1); !keys[last] {
				t.Errorf("the last change, %s, not delivered", last)
			}
			if keys["after-stop"] {
				t.Error("change after stop delivered")
			}
		})
	}
}

func TestViewConfig(t *testing.T) {
	v := app.NewView()
	ch, stop := v.Subscribe()
	defer stop()
	tests := []struct {
		name    string
		value   string
		deleted bool
		want    bool
	}{
		{"absent means on", "", true, true},
		{"off", "off", false, false},
		{"disabled", "Disabled", false, false},
		{"zero", "0", false, false},
		{"on", "on", false, true},
		{"anything else means on", "yes please", false, true},
		{"deleted again", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.SetConfig(app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), tt.value, tt.deleted)
			if k := <-ch; k != app.AllKeys {
				t.Errorf("config change notified as %q, want AllKeys", k)
			}
			got, err := v.IntegrationEnabled(context.Background(), adjoinv1.Side_SIDE_ENDPOINT)
			if err != nil || got != tt.want {
				t.Errorf("IntegrationEnabled = %v, %v; want %v", got, err, tt.want)
			}
			if on, _ := v.IntegrationEnabled(context.Background(), adjoinv1.Side_SIDE_IDENTITY); !on {
				t.Error("the identity side moved with the endpoint toggle")
			}
		})
	}
}
