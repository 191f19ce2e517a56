package wire

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf16"
)

var ntlmSignature = []byte("NTLMSSP\x00")

// NTLM negotiate flags read here.
const (
	ntlmUnicode = 0x00000001
	ntlmVersion = 0x02000000
)

// NTLMMessage is what DecodeNTLM reads from an NTLMSSP message. Only AUTHENTICATE (type 3)
// messages carry the names.
type NTLMMessage struct {
	Type                      uint32
	User, Domain, Workstation string
	// V1 is true when the NT response is 24 bytes (NTLMv1), false for NTLMv2.
	V1 bool
	// OSVersion is "major.minor.build" when the client sent its version.
	OSVersion string
}

// DecodeNTLM decodes an NTLMSSP message starting with its signature.
func DecodeNTLM(b []byte) (NTLMMessage, error) {
	if len(b) < 12 || string(b[:8]) != string(ntlmSignature) {
		return NTLMMessage{}, errShort
	}
	m := NTLMMessage{Type: binary.LittleEndian.Uint32(b[8:])}
	if m.Type != 3 {
		return m, nil
	}
	if len(b) < 64 {
		return m, errShort
	}
	flags := binary.LittleEndian.Uint32(b[60:])
	field := func(off int) ([]byte, bool) {
		n, at := int(binary.LittleEndian.Uint16(b[off:])), int(binary.LittleEndian.Uint32(b[off+4:]))
		if n == 0 {
			return nil, true
		}
		if at < 0 || at > len(b) || n > len(b)-at {
			return nil, false
		}
		return b[at : at+n], true
	}
	text := func(off int) (string, bool) {
		raw, ok := field(off)
		if !ok {
			return "", false
		}
		if flags&ntlmUnicode == 0 {
			return string(raw), true
		}
		return utf16le(raw), true
	}
	nt, ok := field(20)
	if !ok {
		return m, errShort
	}
	m.V1 = len(nt) == 24
	var ok1, ok2, ok3 bool
	m.Domain, ok1 = text(28)
	m.User, ok2 = text(36)
	m.Workstation, ok3 = text(44)
	if !ok1 || !ok2 || !ok3 {
		return m, errShort
	}
	if flags&ntlmVersion != 0 && len(b) >= 72 {
		m.OSVersion = strconv.Itoa(int(b[64])) + "." + strconv.Itoa(int(b[65])) + "." + strconv.Itoa(int(binary.LittleEndian.Uint16(b[66:])))
	}
	return m, nil
}

// utf16le decodes UTF-16LE text; an odd trailing byte is dropped.
func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// ntlmRecord writes an ntlm record for an AUTHENTICATE message.
func (s *Sensor) ntlmRecord(tu tuple, m NTLMMessage, t time.Time) {
	f := map[string]string{"username": m.User, "domainname": m.Domain, "hostname": m.Workstation, "ntlm_version": "v2"}
	if m.V1 {
		f["ntlm_version"] = "v1"
	}
	if m.OSVersion != "" {
		f["os_version"] = m.OSVersion
	}
	s.record("ntlm", t, tu, f)
}
