package app

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// MaxChangedBy bounds the stored name of who changed a toggle, in bytes.
const MaxChangedBy = 128

// ToggleChangeKey is the adjoin_config key recording who last set a side's toggle, when, and
// to what. It sits beside the toggle (ToggleKey) instead of inside its value, so the toggle
// stays "on" or "off" for every reader, earlier versions included.
func ToggleChangeKey(side adjoinv1.Side) string {
	return ToggleKey(side) + ".changed"
}

// ToggleChange is the value of a ToggleChangeKey (JSON).
type ToggleChange struct {
	Enabled bool      `json:"enabled"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// encode returns the stored form of c, its By bounded to MaxChangedBy bytes.
func (c ToggleChange) encode() string {
	c.By = bound(c.By, MaxChangedBy)
	b, _ := json.Marshal(c) // a struct of a bool, a string and a time always marshals
	return string(b)
}

// toggleChange reads the record of who last set side's toggle, if the view holds one that
// matches the toggle's state (enabled): a toggle written since by other means (an earlier
// version, `nats kv put`) has no known author.
func (v *View) toggleChange(side adjoinv1.Side, enabled bool) (ToggleChange, bool) {
	val, ok := v.Config(ToggleChangeKey(side))
	if !ok {
		return ToggleChange{}, false
	}
	var c ToggleChange
	if err := json.Unmarshal([]byte(val), &c); err != nil || c.Enabled != enabled || c.At.IsZero() {
		return ToggleChange{}, false
	}
	c.By = bound(c.By, MaxChangedBy)
	return c, true
}

// bound cuts s to at most n bytes without splitting a character.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
