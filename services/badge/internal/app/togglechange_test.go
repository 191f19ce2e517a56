package app

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// viewConfig stores configuration straight into a view, as the bucket's watcher would.
type viewConfig struct{ v *View }

func (c viewConfig) PutConfig(_ context.Context, key, value string) error {
	c.v.SetConfig(key, value, false)
	return nil
}

// noFacts is a FactSource of nothing flowing.
type noFacts struct{}

func (noFacts) Facts(context.Context) (Facts, error) { return Facts{}, nil }

// TestToggleChangeBounded: a caller's name longer than MaxChangedBy is cut, at a character
// boundary, before it is stored.
func TestToggleChangeBounded(t *testing.T) {
	t.Parallel()
	v := NewView()
	s := &Status{Facts: noFacts{}, Config: viewConfig{v}, View: v, Index: directory.NewIndex()}
	long := "cert:" + strings.Repeat("ü", 100) // 205 bytes
	resp, err := s.Set(context.Background(), adjoinv1.Side_SIDE_IDENTITY, false, long)
	if err != nil {
		t.Fatal(err)
	}
	by := resp.GetIdentity().GetChangedBy()
	if len(by) > MaxChangedBy || len(by) < MaxChangedBy-1 || !utf8.ValidString(by) || !strings.HasPrefix(long, by) {
		t.Errorf("stored author of %d bytes (valid UTF-8: %v), want the first %d bytes or one less", len(by), utf8.ValidString(by), MaxChangedBy)
	}
	if stored, _ := v.Config(ToggleChangeKey(adjoinv1.Side_SIDE_IDENTITY)); strings.Contains(stored, long) {
		t.Error("the whole name was stored")
	}
}
