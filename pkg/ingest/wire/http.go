package wire

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"time"
)

const maxHTTPHeader = 16 << 10

// httpFrame returns the size of the HTTP message starting b: its header and, by
// Content-Length, its body. A chunked body loses the framing (the direction stops).
func httpFrame(b []byte) (int, bool) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, len(b) < maxHTTPHeader
	}
	head := asciiLower(b[:end])
	if bytes.Contains(head, []byte("transfer-encoding: chunked")) {
		return 0, false
	}
	n := 0
	if i := bytes.Index(head, []byte("\r\ncontent-length:")); i >= 0 {
		v := head[i+len("\r\ncontent-length:"):]
		if j := bytes.IndexByte(v, '\r'); j >= 0 {
			v = v[:j]
		}
		var err error
		if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil || n < 0 {
			return 0, false
		}
	}
	return end + 4 + n, true
}

// httpMessage reads NTLM or Negotiate credentials from a request's Authorization header.
func (st *stream) httpMessage(d int, b []byte, t time.Time) {
	if d != 0 {
		return
	}
	for _, scheme := range []string{"NTLM ", "Negotiate "} {
		i := bytes.Index(b, []byte("Authorization: "+scheme))
		if i < 0 {
			continue
		}
		v := b[i+len("Authorization: "+scheme):]
		if j := bytes.IndexByte(v, '\r'); j >= 0 {
			v = v[:j]
		}
		blob, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(v)))
		if err == nil {
			st.s.authClient(blob, st.tu, t)
		}
	}
}

// asciiLower lower-cases ASCII letters only, so offsets stay those of b (bytes.ToLower
// rewrites invalid UTF-8 and may change the length).
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
