package sambaaudit

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Format is the Event.Format of every event this package makes.
const Format = "samba-audit"

// ChannelPrefix starts the Channel of an event Windows has no id for: "samba/dsdbChange",
// "samba/Authorization" (as Zeek's records are "zeek/<log>").
const ChannelPrefix = "samba/"

// Adjoin turns the audit event into the event adjoin keeps on DC_EVENTS, as a Windows DC would
// have logged it where Windows has an equivalent, so that the identity detectors read it
// unchanged. host is the DC that wrote the log: the log does not name it.
//
//	Samba                                        Channel / EventId   Windows fields
//	Authentication, Kerberos KDC, OK             Security 4768       Status 0x0, PreAuthType 2 (ENC-TS)
//	Authentication, Kerberos KDC, wrong password Security 4771       Status 0x18
//	Authentication, Kerberos KDC, no such user   Security 4768       Status 0x6
//	Authentication, Kerberos KDC, disabled,      Security 4768       Status 0x12 (0x17 password
//	  locked out, expired                                            expired, 0xc restrictions)
//	Authentication, other services (SMB2, LDAP,  Security 4624/4625  as Samba labels it; 4625
//	  SamLogon), NTLM or simple bind                                 Status/SubStatus in hex
//	groupChange with an eventId (4728, 4729,     Security, its id    TargetUserName = the group's
//	  4732, 4733, 4756, 4757, ...)                                   CN, MemberName = member DN
//	passwordChange (4723 change, 4724 reset)     Security, its id    TargetUserName = the CN of dn
//	dsdbChange, Authorization, groupChange       samba/<type>, 0     ObjectDN, SubjectUserSid, ...
//	  without an eventId, any other type
//
// Samba labels its KDC's authentications 4624/4625, but on Windows a KDC logs 4768/4771, which
// the Kerberos detectors (account enumeration, spraying, AS-REP roasting, ticket reuse)
// expect: a name that does not exist is then 4768 0x6, left to account enumeration, as on
// Windows. Samba's own id is kept in samba.eventId. Every field of Samba's object is kept as
// "samba.<name>" (nested objects and arrays as compact JSON, null left out), with
// "samba.type" and, for a relayed event, "samba.relayedBy".
func (e *Event) Adjoin(host string) *adjoinv1.Event {
	f := map[string]string{"samba.type": e.Type}
	if e.RelayedBy != "" {
		f["samba.relayedBy"] = e.RelayedBy
	}
	for k, v := range e.Body {
		if s, ok := value(v); ok {
			f["samba."+k] = s
		}
	}
	ev := &adjoinv1.Event{Format: Format, Host: host, Time: timestamppb.New(e.Time), Fields: f}
	switch e.Type {
	case "Authentication":
		e.authentication(ev)
	case "groupChange":
		e.groupChange(ev)
	case "passwordChange":
		e.passwordChange(ev)
	}
	if ev.Channel == "" {
		e.other(ev)
	}
	return ev
}

// authentication maps a password check: the KDC's to 4768/4771, the others to 4624/4625.
func (e *Event) authentication(ev *adjoinv1.Event) {
	f := ev.Fields
	b := e.Body
	code, known := statusCode(str(b, "status"))
	ev.Channel = "Security"
	setAddress(f, str(b, "remoteAddress"))
	kerberos := str(b, "serviceDescription") == "Kerberos KDC"
	name, domain := account(b, kerberos)
	setIf(f, "TargetUserName", "TargetDomainName", name, domain)
	if kerberos {
		id, krb, ok := kerberosResult(code)
		ev.EventId = id
		if known && ok {
			f["Status"] = hex(krb)
		}
		setIf(f, "TargetSid", "PreAuthType", str(b, "becameSid"), preAuthType(str(b, "authDescription")))
		return
	}
	ev.EventId = int32(number(b, "eventId"))
	if ev.EventId == 0 {
		ev.EventId = 4625
		if known && code == 0 {
			ev.EventId = 4624
		}
	}
	if ev.EventId == 4625 && known {
		status, sub := logonStatus(code)
		f["Status"], f["SubStatus"] = hex(status), hex(sub)
	}
	if n, ok := b["logonType"].(json.Number); ok {
		f["LogonType"] = n.String()
	}
	if id := str(b, "logonId"); id != "" && id != "0" {
		f["TargetLogonId"] = "0x" + id
	}
	setIf(f, "TargetUserSid", "", str(b, "becameSid"), "")
	desc, pw := str(b, "authDescription"), str(b, "passwordType")
	if !strings.HasPrefix(desc, "simple bind") {
		// For a simple bind Samba writes its own name here, not the client's.
		setIf(f, "WorkstationName", "", str(b, "workstation"), "")
	}
	switch pw {
	case "NTLMv1":
		f["LmPackageName"] = "NTLM V1"
	case "NTLMv2":
		f["LmPackageName"] = "NTLM V2"
	case "LANMan":
		f["LmPackageName"] = "LM"
	}
	if desc == "NTLMSSP" || f["LmPackageName"] != "" {
		f["AuthenticationPackageName"] = "NTLM"
	}
}

// account is the account an authentication names: the one Samba mapped it to when known,
// else the name the client gave; a Kerberos name@REALM is split.
func account(b map[string]any, kerberos bool) (name, domain string) {
	name = first(str(b, "becameAccount"), str(b, "mappedAccount"), str(b, "clientAccount"))
	domain = first(str(b, "becameDomain"), str(b, "mappedDomain"), str(b, "clientDomain"))
	if kerberos && str(b, "becameAccount") == "" {
		if i := strings.LastIndexByte(name, '@'); i > 0 {
			name, domain = name[:i], first(domain, name[i+1:])
		}
	}
	return name, domain
}

// preAuthType is the 4768 PreAuthType of Samba's authDescription, "" when it does not say.
func preAuthType(desc string) string {
	d := strings.ToUpper(desc)
	switch {
	case strings.Contains(d, "ENC-TS"):
		return "2"
	case strings.Contains(d, "PKINIT"), strings.Contains(d, "PK-INIT"):
		return "16"
	case strings.Contains(d, "ENC-CHALLENGE"), strings.Contains(d, "FAST"):
		return "138"
	}
	return ""
}

// groupChange maps a membership change to 4728 & co., as Samba numbers it. Samba names the
// group and the member by DN only: TargetUserName is the group's CN (what the privileged group
// detector matches without a SID) and MemberName the member's DN, whose SID the detector
// looks up in the directory.
func (e *Event) groupChange(ev *adjoinv1.Event) {
	id := number(e.Body, "eventId")
	if id == 0 {
		return
	}
	ev.Channel, ev.EventId = "Security", int32(id)
	f := ev.Fields
	group := str(e.Body, "group")
	setIf(f, "TargetUserName", "MemberName", firstCN(group), str(e.Body, "user"))
	setIf(f, "SubjectUserSid", "", str(e.Body, "userSid"), "")
	setAddress(f, str(e.Body, "remoteAddress"))
}

// passwordChange maps a password change (4723) or reset (4724). TargetUserName is the CN of
// the account's DN, which is its sAMAccountName only when the two agree.
func (e *Event) passwordChange(ev *adjoinv1.Event) {
	id := number(e.Body, "eventId")
	if id == 0 {
		return
	}
	ev.Channel, ev.EventId = "Security", int32(id)
	f := ev.Fields
	setIf(f, "TargetUserName", "ObjectDN", firstCN(str(e.Body, "dn")), str(e.Body, "dn"))
	setIf(f, "SubjectUserSid", "", str(e.Body, "userSid"), "")
	setAddress(f, str(e.Body, "remoteAddress"))
}

// other keeps an event Windows has no id for on its own channel, with the fields every type
// shares under their Windows names.
func (e *Event) other(ev *adjoinv1.Event) {
	ev.Channel, ev.EventId = ChannelPrefix+e.Type, 0
	f := ev.Fields
	setIf(f, "ObjectDN", "SubjectUserSid", str(e.Body, "dn"), str(e.Body, "userSid"))
	setAddress(f, str(e.Body, "remoteAddress"))
	if e.Type == "Authorization" {
		setIf(f, "TargetUserName", "TargetDomainName", str(e.Body, "account"), str(e.Body, "domain"))
		setIf(f, "TargetUserSid", "AuthenticationPackageName", str(e.Body, "sid"), str(e.Body, "authType"))
	}
}

// addressParts splits Samba's "ipv4:10.0.0.5:49152" or "ipv6:fd00::2:445" into address and
// port; anything else gives "", "".
func addressParts(s string) (ip, port string) {
	rest, ok := strings.CutPrefix(s, "ipv4:")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "ipv6:"); !ok {
			return "", ""
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", ""
	}
	ip, port = strings.Trim(rest[:i], "[]"), rest[i+1:]
	if net.ParseIP(ip) == nil {
		return "", ""
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		port = ""
	}
	return ip, port
}

// firstCN is the value of a DN's first RDN when it is a CN, unescaped ("Domain Admins").
func firstCN(dn string) string {
	typ, rest, ok := strings.Cut(dn, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(typ), "CN") {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '\\' && i+1 < len(rest):
			i++
			b.WriteByte(rest[i])
		case c == ',':
			return strings.TrimSpace(b.String())
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// value writes a JSON value as a field: strings as they are, numbers as written, booleans,
// nested values as compact JSON; null is no value.
func value(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

func str(b map[string]any, key string) string {
	s, _ := b[key].(string)
	return s
}

func number(b map[string]any, key string) int64 {
	n, _ := b[key].(json.Number)
	i, _ := n.Int64()
	return i
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// setAddress sets IpAddress and IpPort from a Samba address.
func setAddress(f map[string]string, addr string) {
	ip, port := addressParts(addr)
	setIf(f, "IpAddress", "IpPort", ip, port)
}

// setIf sets up to two fields, each only when its name and value are not empty.
func setIf(f map[string]string, k1, k2, v1, v2 string) {
	if k1 != "" && v1 != "" {
		f[k1] = v1
	}
	if k2 != "" && v2 != "" {
		f[k2] = v2
	}
}
