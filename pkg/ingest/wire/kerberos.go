package wire

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/adjoin/adjoin/pkg/bounded"
)

// Kerberos message tags (the APPLICATION tag byte of each message, RFC 4120).
const (
	tagASReq    = 0x6a
	tagASRep    = 0x6b
	tagTGSReq   = 0x6c
	tagTGSRep   = 0x6d
	tagAPReq    = 0x6e
	tagKRBError = 0x7e
)

// paEncTimestamp is the pre-authentication data type of an encrypted timestamp.
const paEncTimestamp = 2

// etypeNames are the etypes as Zeek's kerberos.log writes them.
var etypeNames = map[int32]string{
	1: "des-cbc-crc", 3: "des-cbc-md5", 17: "aes128-cts-hmac-sha1-96", 18: "aes256-cts-hmac-sha1-96",
	19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192", 23: "rc4-hmac", 24: "rc4-hmac-exp",
	-128: "rc4-hmac-old-exp",
}

// EtypeName returns the name Zeek gives an etype, or its number.
func EtypeName(e int32) string {
	if n, ok := etypeNames[e]; ok {
		return n
	}
	return strconv.Itoa(int(e))
}

// KerberosMessage is what DecodeKerberos reads from one message; which fields are set
// depends on Type ("AS-REQ", "AS-REP", "TGS-REQ", "TGS-REP", "KRB-ERROR", "AP-REQ").
type KerberosMessage struct {
	Type               string
	Client, Realm      string // client principal (name/name...) and realm
	Service            string // service principal, components joined with "/"
	ETypes             []int32
	PreAuth            bool      // an AS-REQ carried an encrypted timestamp
	TicketEType        int32     // etype of the ticket (replies, AP-REQ)
	ReplyEType         int32     // etype of the reply's encrypted part
	TicketKey          string    // the ticket's identity (ticketKey), to match AP-REQs to replies
	ErrorCode          int32     // KRB-ERROR
	Till               time.Time // requests
	Addresses          []string  // requests' client addresses (NetBIOS names)
	HasTicket, IsError bool      // a reply or AP-REQ with a ticket; a KRB-ERROR
}

// principal joins a principal name's components.
func principal(p types.PrincipalName) string { return strings.Join(p.NameString, "/") }

// ticketKey identifies a ticket by its ciphertext, so that a ticket issued in a TGS-REP is
// recognised when it is presented in an AP-REQ.
func ticketKey(cipher []byte) string {
	if len(cipher) == 0 {
		return ""
	}
	s := sha256.Sum256(cipher)
	return string(s[:16])
}

// kdcRequest unmarshals an AS-REQ or a TGS-REQ (by its tag) and names its type.
func kdcRequest(b []byte) (messages.KDCReqFields, string, error) {
	if b[0] == tagASReq {
		var r messages.ASReq
		err := r.Unmarshal(b)
		return r.KDCReqFields, "AS-REQ", err
	}
	var r messages.TGSReq
	err := r.Unmarshal(b)
	return r.KDCReqFields, "TGS-REQ", err
}

// kdcReply unmarshals an AS-REP or a TGS-REP (by its tag) and names its type.
func kdcReply(b []byte) (messages.KDCRepFields, string, error) {
	if b[0] == tagASRep {
		var r messages.ASRep
		err := r.Unmarshal(b)
		return r.KDCRepFields, "AS-REP", err
	}
	var r messages.TGSRep
	err := r.Unmarshal(b)
	return r.KDCRepFields, "TGS-REP", err
}

// DecodeKerberos decodes one Kerberos message (without the TCP length prefix).
func DecodeKerberos(b []byte) (KerberosMessage, error) {
	if len(b) == 0 {
		return KerberosMessage{}, errShort
	}
	var m KerberosMessage
	switch b[0] {
	case tagASReq, tagTGSReq:
		req, typ, err := kdcRequest(b)
		if err != nil {
			return m, err
		}
		m.Type = typ
		m.Client, m.Realm = principal(req.ReqBody.CName), req.ReqBody.Realm
		m.Service, m.ETypes, m.Till = principal(req.ReqBody.SName), req.ReqBody.EType, req.ReqBody.Till
		for _, a := range req.ReqBody.Addresses {
			m.Addresses = append(m.Addresses, strings.TrimRight(string(a.Address), " \x00"))
		}
		for _, pa := range req.PAData {
			if pa.PADataType == paEncTimestamp {
				m.PreAuth = true
			}
			if pa.PADataType == 1 { // PA-TGS-REQ: the AP-REQ with the TGT
				var ap messages.APReq
				if ap.Unmarshal(pa.PADataValue) == nil {
					m.TicketKey = ticketKey(ap.Ticket.EncPart.Cipher)
				}
			}
		}
	case tagASRep, tagTGSRep:
		rep, typ, err := kdcReply(b)
		if err != nil {
			return m, err
		}
		m.Type = typ
		m.Client, m.Realm = principal(rep.CName), rep.CRealm
		m.Service = principal(rep.Ticket.SName)
		m.HasTicket, m.TicketEType, m.ReplyEType = true, rep.Ticket.EncPart.EType, rep.EncPart.EType
		m.TicketKey = ticketKey(rep.Ticket.EncPart.Cipher)
	case tagKRBError:
		var e messages.KRBError
		if err := e.Unmarshal(b); err != nil {
			return m, err
		}
		m.Type, m.IsError, m.ErrorCode = "KRB-ERROR", true, e.ErrorCode
		m.Client, m.Realm, m.Service = principal(e.CName), e.CRealm, principal(e.SName)
		if m.Realm == "" {
			m.Realm = e.Realm
		}
	case tagAPReq:
		var ap messages.APReq
		if err := ap.Unmarshal(b); err != nil {
			return m, err
		}
		m.Type, m.Service, m.Realm = "AP-REQ", principal(ap.Ticket.SName), ap.Ticket.Realm
		m.HasTicket, m.TicketEType = true, ap.Ticket.EncPart.EType
		m.TicketKey = ticketKey(ap.Ticket.EncPart.Cipher)
	default:
		return m, errUnknown
	}
	return m, nil
}

// errorName is the error's name as Zeek's error_msg writes it ("KDC_ERR_PREAUTH_FAILED").
func errorName(code int32) string {
	s := errorcode.Lookup(code)
	if _, rest, ok := strings.Cut(s, ") "); ok {
		name, _, _ := strings.Cut(rest, " ")
		return name
	}
	return "KRB_ERR_" + strconv.Itoa(int(code))
}

// kerberosPending is a request waiting for its reply.
type kerberosPending struct {
	msg KerberosMessage
	t   time.Time
	set bool
}

// kerberosConn pairs a TCP connection's request with its reply.
type kerberosConn struct{ pending kerberosPending }

func (st *stream) kerberosTCP(d int, b []byte, t time.Time) {
	m, err := DecodeKerberos(b)
	if err != nil {
		st.s.stats.DecodeErrors++
		return
	}
	if d == 0 {
		st.krb.flush(st)
		st.krb.pending = kerberosPending{msg: m, t: t, set: true}
		return
	}
	req := st.krb.pending
	st.krb.pending = kerberosPending{}
	st.s.kerberosRecord(st.tu, req, m, t)
}

// flush reports a request that got no reply.
func (k *kerberosConn) flush(st *stream) {
	if k.pending.set {
		st.s.kerberosRecord(st.tu, k.pending, KerberosMessage{}, k.pending.t)
		k.pending = kerberosPending{}
	}
}

// shared holds the bounded tables that outlive one connection.
type shared struct {
	udp     *bounded.Map[string, kerberosPending] // Kerberos over UDP: request by 4-tuple
	tickets *bounded.Map[string, string]          // ticket ciphertext key -> client principal
}

func newShared(max int) *shared {
	return &shared{udp: bounded.NewMap[string, kerberosPending](max), tickets: bounded.NewMap[string, string](max)}
}

// kerberosUDP pairs datagrams by 4-tuple.
func (s *Sensor) kerberosUDP(tu tuple, b []byte, t time.Time, reply bool) {
	m, err := DecodeKerberos(b)
	if err != nil {
		s.stats.DecodeErrors++
		return
	}
	key := tu.origH + "|" + itoa(tu.origP) + "|" + tu.respH
	tu.start = t
	if !reply {
		s.shared.udp.Put(key, kerberosPending{msg: m, t: t, set: true})
		return
	}
	req, _ := s.shared.udp.Get(key)
	s.shared.udp.Put(key, kerberosPending{})
	s.kerberosRecord(tu, req, m, t)
}

// kerberosRecord writes one kerberos record from a request and its reply (either may be
// missing), with Zeek's columns and the wire-only ones.
func (s *Sensor) kerberosRecord(tu tuple, req kerberosPending, rep KerberosMessage, t time.Time) {
	q := req.msg
	f := map[string]string{}
	kind := strings.TrimSuffix(q.Type, "-REQ")
	if kind == "" {
		kind = strings.TrimSuffix(rep.Type, "-REP")
	}
	if kind != "AS" && kind != "TGS" {
		return // AP exchanges and unpaired errors say nothing on their own
	}
	f["request_type"] = kind
	client, realm := q.Client, q.Realm
	if rep.Client != "" {
		client, realm = rep.Client, rep.Realm
	}
	if client != "" {
		f["client"] = client + "/" + realm
	}
	if q.Service != "" {
		f["service"] = q.Service
	} else if rep.Service != "" {
		f["service"] = rep.Service
	}
	if req.set {
		es := make([]string, len(q.ETypes))
		for i, e := range q.ETypes {
			es[i] = strconv.Itoa(int(e))
		}
		f["req_etypes"] = strings.Join(es, ",")
		if kind == "AS" {
			f["preauth"] = boolT(q.PreAuth)
		}
		if !q.Till.IsZero() {
			f["till"] = strconv.FormatInt(q.Till.Unix(), 10)
		}
		if len(q.Addresses) > 0 {
			f["client_addresses"] = strings.Join(q.Addresses, ",")
		}
	}
	switch {
	case rep.IsError:
		f["success"] = "F"
		f["error_code"] = strconv.Itoa(int(rep.ErrorCode))
		f["error_msg"] = errorName(rep.ErrorCode)
	case rep.HasTicket:
		f["success"] = "T"
		f["cipher"] = EtypeName(rep.TicketEType)
		f["reply_cipher"] = EtypeName(rep.ReplyEType)
		if rep.TicketKey != "" && client != "" {
			s.shared.tickets.Put(rep.TicketKey, client+"@"+realm)
		}
	}
	s.record("kerberos", t, tu, f)
}

// ticketClient returns the client a presented ticket was issued to, when its TGS-REP or
// AS-REP was seen.
func (s *Sensor) ticketClient(key string) string {
	if key == "" {
		return ""
	}
	c, _ := s.shared.tickets.Get(key)
	return c
}

func boolT(b bool) string {
	if b {
		return "T"
	}
	return "F"
}
