package ports

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// checkCount accepts every key entity makes, up to entity.MaxKeyLen bytes, and refuses one
// byte more and what a KV bucket refuses.
func TestCheckCount(t *testing.T) {
	longest := entity.UserNameKey(strings.Repeat("d", 500), strings.Repeat("s", 500))
	tests := []struct {
		name, key string
		want      string
	}{
		{"sid", "S-1-5-21-1004336348-1177238915-682003330-1000", ""},
		{"guid", "0f6b1a3c-93a1-4f51-b1f2-0c5c9b7c3d10", ""},
		{"host", "host.ws01.corp.example.com", ""},
		{"longest", longest, ""},
		{"one byte more", longest + "x", "entity key not usable as a record key"},
		{"empty", "", "no entity key"},
		{"space", "user.a b", "entity key not usable as a record key"},
		{"wildcard", "user.*", "entity key not usable as a record key"},
		{"leading dot", ".a", "entity key not usable as a record key"},
		{"trailing dot", "a.", "entity key not usable as a record key"},
		{"two dots", "a..b", "entity key not usable as a record key"},
		{"non-ASCII", "user.é", "entity key not usable as a record key"},
	}
	if len(longest) != entity.MaxKeyLen {
		t.Fatalf("longest key %d bytes, want %d", len(longest), entity.MaxKeyLen)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &adjoinv1.CorrelatedAlert{EntityKey: tc.key, Alert: &adjoinv1.Alert{Id: "a"}}
			if got := checkCount(c); got != tc.want {
				t.Errorf("checkCount(%q) = %q, want %q", tc.key, got, tc.want)
			}
		})
	}
	if got := checkCount(&adjoinv1.CorrelatedAlert{EntityKey: "u"}); got != "no alert" {
		t.Errorf("no alert: %q", got)
	}
	long := &adjoinv1.CorrelatedAlert{EntityKey: "u", Alert: &adjoinv1.Alert{Id: strings.Repeat("a", counts.MaxIDBytes+1)}}
	if got := checkCount(long); got != "alert id too long" {
		t.Errorf("alert id of %d bytes: %q", counts.MaxIDBytes+1, got)
	}
	long.Alert.Id = long.Alert.Id[1:]
	if got := checkCount(long); got != "" {
		t.Errorf("alert id of %d bytes: %q", counts.MaxIDBytes, got)
	}
}
