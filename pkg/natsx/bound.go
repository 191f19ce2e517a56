package natsx

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxToken is the longest subject token or KV key part built from input that is kept as is.
// The server closes a connection whose control line (the subject included) passes its
// max_control_line (4 KiB by default), and nats.go does not reconnect after that: a key made
// from a 5,000-character host name would cut a service off NATS for good. Bounding every token
// built from input keeps every subject and key far below that limit.
const MaxToken = 128

// boundPrefix is how much of a longer token stays readable. With '-' and 32 hex digits the
// bounded form is 129 bytes, longer than MaxToken, so it never equals a token kept as is.
const boundPrefix = 96

// Bound keeps s as is when it is at most MaxToken bytes; a longer s becomes its first 96 bytes,
// '-' and 32 hex digits of its SHA-256. It is deterministic, so a writer and a reader that
// bound the same name meet on the same key. Callers pass a string already made safe (Token,
// KeyToken, KeyPart), so the prefix is ASCII and the result stays safe.
func Bound(s string) string {
	if len(s) <= MaxToken {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:boundPrefix] + "-" + hex.EncodeToString(sum[:16])
}

// KeyToken makes s one token that is both a valid subject token and a valid KV key token,
// case kept: anything outside [A-Za-z0-9_-] becomes '_', and the result is bounded. An empty
// s gives "_".
func KeyToken(s string) string {
	if s == "" {
		return "_"
	}
	return Bound(mapSafe(s, false))
}

// KeyPart makes s a part of a KV key that may hold dots (a host's FQDN), case kept: anything
// outside [A-Za-z0-9_.-] becomes '_', leading and trailing dots go, an empty token between
// two dots becomes '_' (the server refuses "a..b"), and the result is bounded. It returns ""
// when nothing is left.
func KeyPart(s string) string {
	safe := strings.Trim(mapSafe(s, true), ".")
	for strings.Contains(safe, "..") {
		safe = strings.ReplaceAll(safe, "..", "._.")
	}
	if safe == "" {
		return ""
	}
	// Bounding may end the prefix on a dot; "x.-<hash>" is still a valid key.
	return Bound(safe)
}

// mapSafe replaces every character outside [A-Za-z0-9_-] (and '.', when dots is true) with
// one '_', as the keys stored so far were made, so the result is ASCII.
func mapSafe(s string, dots bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.' && dots:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
