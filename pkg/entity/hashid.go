package entity

import (
	"crypto/sha256"
	"encoding/hex"
)

// HashID returns a short deterministic id of its parts (hex of the first 16 bytes of SHA-256).
// Alert ids, incident ids and message ids are built with it, so the same input always names the
// same thing; a zero byte separates the parts, so ("ab","c") and ("a","bc") differ.
func HashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
