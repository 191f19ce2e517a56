package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

var (
	errShort   = errors.New("message too short")
	errUnknown = errors.New("unknown message")
)

// DCE/RPC connection-oriented packet types.
const (
	rpcRequest  = 0
	rpcBind     = 11
	rpcAlter    = 14
	rpcAuth3    = 16
	rpcHeader   = 16
	rpcFirstFrg = 0x01
	rpcObjectID = 0x80
)

// rpcFrame returns the size of the PDU starting b.
func rpcFrame(b []byte) (int, bool) {
	if len(b) < rpcHeader {
		if len(b) >= 2 && (b[0] != 5 || b[1] != 0) {
			return 0, false
		}
		return 0, true
	}
	if b[0] != 5 || b[1] != 0 {
		return 0, false
	}
	n := int(rpcUint16(b, 8))
	if n < rpcHeader {
		return 0, false
	}
	return n, true
}

// rpcUint16 reads a header integer in the PDU's byte order (data representation byte 4).
func rpcUint16(b []byte, off int) uint16 {
	if b[4]&0x10 != 0 {
		return binary.LittleEndian.Uint16(b[off:])
	}
	return binary.BigEndian.Uint16(b[off:])
}

// RPCPDU is what DecodeRPC reads from one PDU.
type RPCPDU struct {
	Type      byte
	FirstFrag bool
	// Contexts maps presentation context ids to interface UUIDs (bind, alter_context).
	Contexts map[uint16]string
	// ContextID and Opnum of a request.
	ContextID, Opnum uint16
	// AuthType and AuthLevel of the auth verifier (0 when none); Auth is its value.
	AuthType, AuthLevel byte
	Auth                []byte
}

// uuidString formats a DCE UUID stored little-endian in its first three fields.
func uuidString(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

// DecodeRPC decodes the parts of a DCE/RPC PDU the detectors use. b may be only the head of
// a long PDU: the auth verifier is then left out.
func DecodeRPC(b []byte) (RPCPDU, error) {
	if len(b) < rpcHeader || b[0] != 5 || b[1] != 0 {
		return RPCPDU{}, errShort
	}
	p := RPCPDU{Type: b[2], FirstFrag: b[3]&rpcFirstFrg != 0}
	fragLen, authLen := int(rpcUint16(b, 8)), int(rpcUint16(b, 10))
	if authLen > 0 && fragLen <= len(b) && fragLen-authLen-8 >= rpcHeader {
		at := fragLen - authLen - 8
		p.AuthType, p.AuthLevel, p.Auth = b[at], b[at+1], b[at+8:fragLen]
	}
	body := b[rpcHeader:]
	switch p.Type {
	case rpcBind, rpcAlter:
		if len(body) < 12 {
			return p, errShort
		}
		n := int(body[8])
		body = body[12:]
		p.Contexts = map[uint16]string{}
		for i := 0; i < n; i++ {
			if len(body) < 24 {
				return p, errShort
			}
			id, trans := binary.LittleEndian.Uint16(body), int(body[2])
			p.Contexts[id] = uuidString(body[4:20])
			skip := 24 + 20*trans
			if len(body) < skip {
				break
			}
			body = body[skip:]
		}
	case rpcRequest:
		if len(body) < 8 {
			return p, errShort
		}
		p.ContextID, p.Opnum = binary.LittleEndian.Uint16(body[4:]), binary.LittleEndian.Uint16(body[6:])
		if b[4]&0x10 == 0 {
			p.ContextID, p.Opnum = binary.BigEndian.Uint16(body[4:]), binary.BigEndian.Uint16(body[6:])
		}
	}
	return p, nil
}

// rpcConn is one RPC association (a TCP connection, or one SMB2 pipe handle).
type rpcConn struct {
	contexts map[uint16]string // context id -> interface UUID
	client   string            // the account the association authenticated as, when seen
}

const maxRPCContexts = 64

// pdu decodes one PDU from direction d of st; pipe is the SMB2 pipe name or "".
func (c *rpcConn) pdu(st *stream, d int, pipe string, b []byte, t time.Time) {
	if d != 0 {
		return
	}
	p, err := DecodeRPC(b)
	if err != nil {
		st.s.stats.DecodeErrors++
		return
	}
	if len(p.Auth) > 0 {
		if who := st.s.authClient(p.Auth, st.tu, t); who != "" {
			c.client = who
		}
	}
	switch p.Type {
	case rpcBind, rpcAlter:
		if c.contexts == nil {
			c.contexts = map[uint16]string{}
		}
		for id, u := range p.Contexts {
			if len(c.contexts) < maxRPCContexts {
				c.contexts[id] = u
			}
		}
	case rpcRequest:
		if !p.FirstFrag {
			return
		}
		u, ok := c.contexts[p.ContextID]
		if !ok {
			return
		}
		endpoint, operation := rpcNames(u, p.Opnum)
		f := map[string]string{"endpoint": endpoint, "operation": operation, "opnum": strconv.Itoa(int(p.Opnum)), "interface": u}
		if pipe != "" {
			f["named_pipe"] = pipe
		}
		if c.client != "" {
			f["client"] = c.client
		}
		if p.AuthLevel != 0 {
			f["auth_level"] = strconv.Itoa(int(p.AuthLevel))
		}
		st.s.record("dce_rpc", t, st.tu, f)
	}
}

// authClient reads a security blob (DCE/RPC auth verifier, SMB2 session setup, LDAP SASL
// credentials): an NTLMSSP AUTHENTICATE gives the account directly and is recorded in the
// ntlm log; a Kerberos AP-REQ gives it when its ticket's issue was seen.
func (s *Sensor) authClient(blob []byte, tu tuple, t time.Time) string {
	if i := bytes.Index(blob, ntlmSignature); i >= 0 {
		if m, err := DecodeNTLM(blob[i:]); err == nil && m.Type == 3 {
			s.ntlmRecord(tu, m, t)
			if m.User != "" {
				return m.Domain + `\` + m.User
			}
		}
		return ""
	}
	if key := apReqTicket(blob); key != "" {
		return s.ticketClient(key)
	}
	return ""
}

// apReqTicket finds a Kerberos AP-REQ inside a GSS-API or SPNEGO token (bare, as Windows
// puts it in a SPNEGO mechToken, or after the GSS header) and returns its ticket's key (see
// ticketKey). It tries the first few places an AP-REQ tag with a long length starts.
func apReqTicket(blob []byte) string {
	for tries, off := 0, 0; tries < 8 && off < len(blob)-2; tries++ {
		i := bytes.IndexByte(blob[off:], tagAPReq)
		if i < 0 {
			return ""
		}
		off += i
		if l := blob[off+1]; l == 0x81 || l == 0x82 || l == 0x83 {
			if m, err := DecodeKerberos(blob[off:]); err == nil && m.Type == "AP-REQ" {
				return m.TicketKey
			}
		}
		off++
	}
	return ""
}
