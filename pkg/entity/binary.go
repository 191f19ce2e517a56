package entity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidSID is wrapped by every SIDFromBytes error, so callers can tell a corrupt objectSid
// from other failures with errors.Is while the message still says what was wrong.
var ErrInvalidSID = errors.New("invalid binary SID")

// ErrInvalidGUID is wrapped by every GUIDFromBytes error, for the same reason as ErrInvalidSID.
var ErrInvalidGUID = errors.New("invalid binary GUID")

// Binary SID layout, MS-DTYP 2.4.2.2: Revision (1 byte), SubAuthorityCount (1 byte),
// IdentifierAuthority (6 bytes, big-endian), then SubAuthorityCount 32-bit little-endian
// sub-authorities.
const (
	sidRevision        = 1
	sidHeaderLen       = 8
	sidMaxSubAuthority = 15
	guidLen            = 16
)

// SIDFromBytes decodes a binary SID (as in objectSid) into S-1-... form.
//
// LDAP and LDIF carry objectSid as raw bytes, but every other source adjoin joins on (event
// logs, EDR alerts) writes the string form, so the directory must convert before it can match.
// The input must be exactly as long as its sub-authority count says: trailing bytes would mean
// the value was cut or glued wrongly, and guessing would join the wrong account.
func SIDFromBytes(b []byte) (string, error) {
	if len(b) < sidHeaderLen {
		return "", fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrInvalidSID, len(b), sidHeaderLen)
	}
	if b[0] != sidRevision {
		return "", fmt.Errorf("%w: revision %d, want %d", ErrInvalidSID, b[0], sidRevision)
	}
	n := int(b[1])
	if n > sidMaxSubAuthority {
		return "", fmt.Errorf("%w: sub-authority count %d, at most %d allowed", ErrInvalidSID, n, sidMaxSubAuthority)
	}
	if want := sidHeaderLen + 4*n; len(b) != want {
		return "", fmt.Errorf("%w: length %d bytes, want %d for %d sub-authorities", ErrInvalidSID, len(b), want, n)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-1-")
	if auth >= 1<<32 {
		// MS-DTYP 2.4.2.1: authorities that do not fit in 32 bits are written in hex.
		fmt.Fprintf(&sb, "0x%012X", auth)
	} else {
		sb.WriteString(strconv.FormatUint(auth, 10))
	}
	for i := range n {
		sub := binary.LittleEndian.Uint32(b[sidHeaderLen+4*i:])
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatUint(uint64(sub), 10))
	}
	return sb.String(), nil
}

// GUIDFromBytes decodes a 16-byte objectGUID (first three groups little-endian, as AD stores it) into canonical lower-case form.
//
// AD stores a GUID in the MS-DTYP 2.3.4.2 packet layout, not RFC 4122 byte order, so reading the
// bytes straight as hex gives a different string from the one Windows prints and event logs
// carry; the result matches NormalizeGUID's form, so it can be used as an entity key directly.
func GUIDFromBytes(b []byte) (string, error) {
	if len(b) != guidLen {
		return "", fmt.Errorf("%w: length %d bytes, want %d", ErrInvalidGUID, len(b), guidLen)
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}
