package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/adjoin/adjoin/pkg/bounded"
)

// LDAP protocol operations read here (APPLICATION tags, RFC 4511).
const (
	ldapBindRequest   = 0
	ldapBindResponse  = 1
	ldapSearchRequest = 3
	maxLDAPPending    = 256
	maxFilterDepth    = 32
)

// ldapResults names the result codes Zeek writes in ldap.log.
var ldapResults = map[int64]string{
	0: "success", 1: "operationsError", 2: "protocolError", 7: "authMethodNotSupported", 8: "strongerAuthRequired",
	14: "saslBindInProgress", 32: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication",
	49: "invalidCredentials", 50: "insufficientAccessRights", 53: "unwillingToPerform",
}

// ldapFrame returns the size of the LDAP message starting b: a BER SEQUENCE, or a SASL
// buffer (4-byte length) once a SASL layer protects the connection.
func ldapFrame(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, true
	}
	switch b[0] {
	case 0x30:
		if b[1] < 0x80 {
			return 2 + int(b[1]), true
		}
		n := int(b[1] & 0x7f)
		if n == 0 || n > 4 {
			return 0, false
		}
		if len(b) < 2+n {
			return 0, true
		}
		size := 0
		for _, c := range b[2 : 2+n] {
			size = size<<8 | int(c)
		}
		return 2 + n + size, true
	case 0x00:
		if len(b) < 4 {
			return 0, true
		}
		return 4 + int(binary.BigEndian.Uint32(b)), true
	}
	return 0, false
}

// LDAPMessage is what DecodeLDAP reads from one message.
type LDAPMessage struct {
	ID     int64
	Op     int    // protocol operation tag
	Object string // bind name, search base
	// Auth is "simple" or "SASL" (bind requests); Mechanism the SASL mechanism; Credentials
	// the SASL credentials (a GSS token).
	Auth, Mechanism string
	Credentials     []byte
	Result          int64 // bind responses
	Diagnostic      string
	Scope           int64
	Filter          string
	Attributes      []string
}

// unwrapSASL returns the LDAP message inside a SASL buffer: the plain text of a Kerberos
// integrity-only wrap token (RFC 4121), or nil when the layer encrypts.
func unwrapSASL(b []byte) []byte {
	if len(b) < 16 {
		return nil
	}
	if b[0] == 0x05 && b[1] == 0x04 { // RFC 4121 wrap token
		if b[2]&0x02 != 0 { // sealed
			return nil
		}
		data := b[16:]
		if rrc := int(binary.BigEndian.Uint16(b[6:])); rrc > 0 && len(data) > 0 {
			rrc %= len(data)
			data = append(append([]byte(nil), data[rrc:]...), data[:rrc]...)
		}
		return data
	}
	if len(b) > 16 && b[16] == 0x30 { // NTLM signature then the message
		return b[16:]
	}
	return nil
}

// DecodeLDAP decodes one LDAPMessage (BER, without a SASL buffer).
func DecodeLDAP(b []byte) (m LDAPMessage, err error) {
	defer func() { // the BER library is not written for hostile input
		if r := recover(); r != nil {
			err = fmt.Errorf("ldap: %v", r)
		}
	}()
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return m, err
	}
	if len(p.Children) < 2 {
		return m, errShort
	}
	m.ID, _ = p.Children[0].Value.(int64)
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication {
		return m, errUnknown
	}
	m.Op = int(op.Tag)
	kids := op.Children
	switch m.Op {
	case ldapBindRequest:
		if len(kids) < 3 {
			return m, errShort
		}
		m.Object = berString(kids[1])
		switch kids[2].Tag {
		case 0:
			m.Auth = "simple"
		case 3:
			m.Auth = "SASL"
			if len(kids[2].Children) > 0 {
				m.Mechanism = berString(kids[2].Children[0])
			}
			if len(kids[2].Children) > 1 {
				m.Credentials = kids[2].Children[1].Data.Bytes()
			}
		}
	case ldapBindResponse:
		if len(kids) < 3 {
			return m, errShort
		}
		m.Result, _ = kids[0].Value.(int64)
		m.Object, m.Diagnostic = berString(kids[1]), berString(kids[2])
	case ldapSearchRequest:
		if len(kids) < 7 {
			return m, errShort
		}
		m.Object = berString(kids[0])
		m.Scope, _ = kids[1].Value.(int64)
		m.Filter = filterString(kids[6], 0)
		if len(kids) > 7 {
			for _, a := range kids[7].Children {
				m.Attributes = append(m.Attributes, berString(a))
			}
		}
	}
	return m, nil
}

// berString is a primitive value's bytes as text.
func berString(p *ber.Packet) string {
	if p == nil || p.Data == nil {
		return ""
	}
	return p.Data.String()
}

// filterString writes a search filter in RFC 4515 form; values are escaped.
func filterString(p *ber.Packet, depth int) string {
	if p == nil || depth > maxFilterDepth {
		return ""
	}
	kid := func(i int) string {
		if i < len(p.Children) {
			return berString(p.Children[i])
		}
		return ""
	}
	switch p.Tag {
	case 0, 1, 2:
		var sb strings.Builder
		sb.WriteString("(" + [...]string{"&", "|", "!"}[p.Tag])
		for _, c := range p.Children {
			sb.WriteString(filterString(c, depth+1))
		}
		return sb.String() + ")"
	case 3, 5, 6, 8:
		op := map[ber.Tag]string{3: "=", 5: ">=", 6: "<=", 8: "~="}[p.Tag]
		return "(" + kid(0) + op + escapeFilter(kid(1)) + ")"
	case 4:
		s := "(" + kid(0) + "="
		if len(p.Children) > 1 {
			parts := p.Children[1].Children
			for i, c := range parts {
				if i == 0 && c.Tag != 0 {
					s += "*"
				}
				s += escapeFilter(berString(c))
				if c.Tag != 2 {
					s += "*"
				}
			}
		}
		return s + ")"
	case 7:
		return "(" + berString(p) + "=*)"
	case 9:
		var rule, attr, value string
		for _, c := range p.Children {
			switch c.Tag {
			case 1:
				rule = ":" + berString(c)
			case 2:
				attr = berString(c)
			case 3:
				value = berString(c)
			}
		}
		return "(" + attr + rule + ":=" + escapeFilter(value) + ")"
	}
	return ""
}

// escapeFilter escapes a filter value as RFC 4515 asks (and every non-printable byte).
func escapeFilter(v string) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == '*' || c == '(' || c == ')' || c == '\\' {
			fmt.Fprintf(&sb, `\%02x`, c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// ldapConn pairs binds with their responses.
type ldapConn struct {
	binds  *bounded.Map[int64, LDAPMessage]
	client string // the account of the last successful bind
}

// ldapMessage decodes one framed LDAP message from direction d.
func (st *stream) ldapMessage(d int, b []byte, t time.Time) {
	if b[0] == 0 {
		b = unwrapSASL(b[4:])
		if b == nil {
			return
		}
	}
	m, err := DecodeLDAP(b)
	if err != nil {
		st.s.stats.DecodeErrors++
		return
	}
	if st.ldap.binds == nil {
		st.ldap.binds = bounded.NewMap[int64, LDAPMessage](maxLDAPPending)
	}
	switch {
	case d == 0 && m.Op == ldapBindRequest:
		if len(m.Credentials) > 0 {
			if who := st.s.authClient(m.Credentials, st.tu, t); who != "" {
				m.Object = who
			}
		}
		st.ldap.binds.Put(m.ID, m)
	case d == 0 && m.Op == ldapSearchRequest:
		f := map[string]string{"message_id": strconv.FormatInt(m.ID, 10), "base_object": m.Object,
			"scope": [...]string{"base", "one", "tree"}[min(max(m.Scope, 0), 2)], "filter": m.Filter,
			"attributes": strings.Join(m.Attributes, ",")}
		if st.ldap.client != "" {
			f["client"] = st.ldap.client
		}
		st.s.record("ldap_search", t, st.tu, f)
	case d == 1 && m.Op == ldapBindResponse:
		req, ok := st.ldap.binds.Get(m.ID)
		if !ok || req.Op != ldapBindRequest {
			return
		}
		st.ldap.binds.Put(m.ID, LDAPMessage{Op: -1})
		if m.Result == 14 { // saslBindInProgress: the exchange goes on
			return
		}
		result, ok := ldapResults[m.Result]
		if !ok {
			result = strconv.FormatInt(m.Result, 10)
		}
		opcode := "bind simple"
		if req.Auth == "SASL" {
			opcode = "bind SASL"
		}
		f := map[string]string{"message_id": strconv.FormatInt(m.ID, 10), "opcode": opcode, "result": result,
			"object": req.Object, "argument": req.Mechanism}
		if m.Result == 0 && req.Object != "" {
			st.ldap.client = req.Object
		}
		if m.Diagnostic != "" {
			f["diagnostic_message"] = m.Diagnostic
		}
		st.s.record("ldap", t, st.tu, f)
	}
}
