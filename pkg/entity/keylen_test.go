package entity

import (
	"strings"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// The longest key of each form fits MaxKeyLen, and the longest of all is exactly it.
func TestMaxKeyLen(t *testing.T) {
	long := strings.Repeat("a", 5000)
	sid := "S-1-281474976710655" + strings.Repeat("-4294967295", 15)
	keys := map[string]string{
		"user": UserNameKey(long, long),
		"host": HostNameKey(long + "." + long),
		"sid":  Key(&adjoinv1.Entity{Sid: sid}),
	}
	if keys["sid"] == "" {
		t.Fatal("the longest SID was refused")
	}
	longest := 0
	for form, k := range keys {
		if len(k) > MaxKeyLen {
			t.Errorf("%s key of %d bytes > MaxKeyLen %d", form, len(k), MaxKeyLen)
		}
		longest = max(longest, len(k))
	}
	if longest != MaxKeyLen {
		t.Errorf("longest key %d bytes, MaxKeyLen %d: the bound is not tight", longest, MaxKeyLen)
	}
}
