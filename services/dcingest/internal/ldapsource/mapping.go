package ldapsource

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// record is one LDIF entry: its dn and its attributes, keyed by lower-case name.
type record struct {
	dn    string
	line  int // line of the dn:
	attrs map[string][]attrValue
}

// uacAccountDisable is the ACCOUNTDISABLE bit of userAccountControl (MS-ADTS 2.2.16).
const uacAccountDisable = 0x2

// generalizedTime is AD's whenChanged form, 20200805061002.0Z; Go accepts the fraction
// after the seconds without it being in the layout.
const generalizedTime = "20060102150405Z0700"

// toEntity maps a user or computer record to an Entity; it returns nil, nil for any other
// object, so that groups and containers in a full export are skipped, not rejected.
func (r *record) toEntity(opts Options) (*adjoinv1.Entity, error) {
	classes, err := r.texts("objectclass")
	if err != nil {
		return nil, err
	}
	kind := adjoinv1.EntityKind_ENTITY_KIND_UNSPECIFIED
	for _, c := range classes {
		switch strings.ToLower(strings.TrimSpace(c)) {
		case "computer":
			kind = adjoinv1.EntityKind_ENTITY_KIND_COMPUTER
		case "user":
			if kind == adjoinv1.EntityKind_ENTITY_KIND_UNSPECIFIED {
				kind = adjoinv1.EntityKind_ENTITY_KIND_USER
			}
		}
	}
	if kind == adjoinv1.EntityKind_ENTITY_KIND_UNSPECIFIED {
		return nil, nil
	}
	e := &adjoinv1.Entity{Kind: kind, Source: opts.Source}

	if e.Sid, err = r.sid(); err != nil {
		return nil, err
	}
	if e.ObjectGuid, err = r.guid(); err != nil {
		return nil, err
	}
	if e.Sid == "" && e.ObjectGuid == "" {
		return nil, &LineError{Line: r.line, DN: r.dn, Err: ErrNoIdentity}
	}

	single := []struct {
		attr string
		dst  *string
	}{
		{"samaccountname", &e.SamAccountName},
		{"userprincipalname", &e.Upn},
		{"dnshostname", &e.DnsHostName},
		{"displayname", &e.DisplayName},
		{"distinguishedname", &e.DistinguishedName},
	}
	for _, s := range single {
		v, _, err := r.text(s.attr)
		if err != nil {
			return nil, err
		}
		*s.dst = strings.TrimSpace(v)
	}
	if e.DistinguishedName == "" {
		e.DistinguishedName = r.dn
	}
	if e.ServicePrincipalNames, err = r.texts("serviceprincipalname"); err != nil {
		return nil, err
	}
	if e.MemberOf, err = r.texts("memberof"); err != nil {
		return nil, err
	}

	dcs := dcComponents(e.DistinguishedName)
	if !utf8.ValidString(strings.Join(dcs, "")) {
		return nil, r.valueErr(r.line, "a DC= component of the DN is not UTF-8")
	}
	e.DnsDomain = strings.ToLower(strings.Join(dcs, "."))
	e.NetbiosDomain = strings.ToUpper(strings.TrimSpace(opts.NetBIOSDomain))
	if e.NetbiosDomain == "" && len(dcs) > 0 {
		e.NetbiosDomain = strings.ToUpper(dcs[0])
	}
	if kind == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER {
		e.NetbiosName = strings.ToUpper(strings.TrimSuffix(e.SamAccountName, "$"))
		if e.NetbiosName == "" && e.DnsHostName != "" {
			e.NetbiosName = strings.ToUpper(strings.SplitN(e.DnsHostName, ".", 2)[0])
		}
	}

	uac, ok, err := r.integer("useraccountcontrol", "userAccountControl", -1<<31, 1<<32-1)
	if err != nil {
		return nil, err
	}
	if ok {
		// AD stores userAccountControl as a signed 32-bit integer; keep its bits.
		e.UserAccountControl = uint32(uac)
		e.Disabled = e.UserAccountControl&uacAccountDisable != 0
	}
	adminCount, _, err := r.integer("admincount", "adminCount", -1<<31, 1<<31-1)
	if err != nil {
		return nil, err
	}
	e.Privileged = adminCount > 0
	for _, g := range e.MemberOf {
		if privilegedGroups[strings.ToLower(firstRDNValue(g))] {
			e.Privileged = true
		}
	}
	if e.WhenChanged, err = r.generalizedTime("whenchanged", "whenChanged"); err != nil {
		return nil, err
	}
	e.Key = entity.Key(e)
	return e, nil
}

func (r *record) valueErr(line int, format string, args ...any) error {
	return &LineError{Line: line, DN: r.dn, Err: fmt.Errorf("%w: "+format, append([]any{ErrValue}, args...)...)}
}

// integer reads a single-valued integer attribute; ok is false when it is absent.
func (r *record) integer(attr, name string, lo, hi int64) (n int64, ok bool, err error) {
	v, line, err := r.text(attr)
	if err != nil || v == "" {
		return 0, false, err
	}
	n, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false, r.valueErr(line, "%s %q is not a 32-bit integer", name, clip(v))
	}
	return n, true, nil
}

// generalizedTime reads a single-valued time attribute, or nil when it is absent.
func (r *record) generalizedTime(attr, name string) (*timestamppb.Timestamp, error) {
	v, line, err := r.text(attr)
	if err != nil || v == "" {
		return nil, err
	}
	t, err := time.Parse(generalizedTime, strings.TrimSpace(v))
	ts := timestamppb.New(t)
	if err != nil || ts.CheckValid() != nil {
		return nil, r.valueErr(line, "%s %q is not a generalized time like 20200805061002.0Z", name, clip(v))
	}
	return ts, nil
}

// texts returns every value of a text attribute; base64 values must decode to UTF-8, since
// Entity fields are protobuf strings.
func (r *record) texts(attr string) ([]string, error) {
	var out []string
	for _, v := range r.attrs[attr] {
		if v.url {
			return nil, r.valueErr(v.line, "%s given as a URL (:<), which is not supported", attr)
		}
		if !utf8.Valid(v.val) {
			return nil, r.valueErr(v.line, "%s is not UTF-8 text", attr)
		}
		out = append(out, string(v.val))
	}
	return out, nil
}

// text returns the single value of a single-valued attribute and its line, or "" if absent.
func (r *record) text(attr string) (string, int, error) {
	vs := r.attrs[attr]
	if len(vs) > 1 {
		return "", 0, r.valueErr(vs[1].line, "%s has %d values, want one", attr, len(vs))
	}
	texts, err := r.texts(attr)
	if err != nil || len(texts) == 0 {
		return "", 0, err
	}
	return texts[0], vs[0].line, nil
}

// sid reads objectSid, binary as ldifde writes it or as text as people write it by hand.
func (r *record) sid() (string, error) {
	vs := r.attrs["objectsid"]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", r.valueErr(vs[1].line, "objectSid has %d values, want one", len(vs))
	case vs[0].url:
		return "", r.valueErr(vs[0].line, "objectSid given as a URL (:<), which is not supported")
	}
	v := vs[0]
	if v.b64 && !(len(v.val) > 0 && (v.val[0] == 'S' || v.val[0] == 's') && isText(v.val)) {
		s, err := entity.SIDFromBytes(v.val)
		if err != nil {
			return "", r.valueErr(v.line, "objectSid: %v", err)
		}
		if entity.NormalizeSID(s) == "" {
			return "", r.valueErr(v.line, "objectSid %s cannot be used as a key", s)
		}
		return s, nil
	}
	if s := entity.NormalizeSID(string(v.val)); s != "" {
		return s, nil
	}
	return "", r.valueErr(v.line, "objectSid %q is not a SID", clip(string(v.val)))
}

// guid reads objectGUID: 16 bytes in AD's order, or text with or without braces.
func (r *record) guid() (string, error) {
	vs := r.attrs["objectguid"]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", r.valueErr(vs[1].line, "objectGUID has %d values, want one", len(vs))
	case vs[0].url:
		return "", r.valueErr(vs[0].line, "objectGUID given as a URL (:<), which is not supported")
	}
	v := vs[0]
	if v.b64 && len(v.val) == 16 {
		return entity.GUIDFromBytes(v.val) // cannot fail on 16 bytes
	}
	if g := entity.NormalizeGUID(string(v.val)); g != "" {
		return g, nil
	}
	if v.b64 {
		_, err := entity.GUIDFromBytes(v.val)
		return "", r.valueErr(v.line, "objectGUID: %v", err)
	}
	return "", r.valueErr(v.line, "objectGUID %q is not a GUID", clip(string(v.val)))
}

// splitDN splits a DN into its RDNs at commas that are neither escaped nor quoted (RFC 4514).
func splitDN(dn string) []string {
	var rdns []string
	start, quoted := 0, false
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				rdns = append(rdns, dn[start:i])
				start = i + 1
			}
		}
	}
	return append(rdns, dn[start:])
}

// rdnValue splits "type=value" and unescapes the value; ok is false when there is no '='.
func rdnValue(rdn string) (typ, value string, ok bool) {
	typ, value, ok = strings.Cut(rdn, "=")
	if !ok {
		return "", "", false
	}
	value = strings.Trim(strings.TrimSpace(value), `"`)
	if strings.IndexByte(value, '\\') < 0 {
		return strings.TrimSpace(typ), value, true
	}
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '\\' || i+1 >= len(value) {
			b.WriteByte(c)
			continue
		}
		if i+2 < len(value) {
			if h, err := strconv.ParseUint(value[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(h))
				i += 2
				continue
			}
		}
		b.WriteByte(value[i+1])
		i++
	}
	return strings.TrimSpace(typ), b.String(), true
}

// dcComponents returns the DC= values of a DN in order: theshire, local.
func dcComponents(dn string) []string {
	var out []string
	for _, rdn := range splitDN(dn) {
		if typ, v, ok := rdnValue(rdn); ok && strings.EqualFold(typ, "dc") && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// firstRDNValue returns the value of the leftmost RDN: "Domain Admins" for
// "CN=Domain Admins,CN=Users,DC=theshire,DC=local".
func firstRDNValue(dn string) string {
	_, v, _ := rdnValue(splitDN(dn)[0])
	return v
}
