package ldapsource

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAPConfig says how to reach and read one domain controller.
type LDAPConfig struct {
	// URL is ldaps://host[:636], or ldap://host[:389] with StartTLS.
	URL      string
	StartTLS bool
	TLS      TLSOptions
	// BindDN is the account of the simple bind: a DN or a UPN.
	BindDN string
	// Password returns the bind password; it is called for every connection, so a rotated
	// password file is picked up without a restart.
	Password func() (string, error)
	// BaseDN is where users and computers are read; empty means the domain
	// (the rootDSE's defaultNamingContext).
	BaseDN string
	// PageSize is the number of entries per page of the paged searches.
	PageSize int
	// Timeout bounds the connection and every operation.
	Timeout time.Duration
}

// Errors wrapped by every failure of an LDAP sync, by the step that failed, so callers and
// tests can tell a refused bind from an unreachable server.
var (
	ErrLDAPConnect = errors.New("LDAP connection failed")
	ErrLDAPTLS     = errors.New("LDAP TLS failed")
	ErrLDAPBind    = errors.New("LDAP bind refused")
	ErrLDAPSearch  = errors.New("LDAP search failed")
)

// stepError is a failure worded for whoever reads the log or the status page, which still
// matches its step's sentinel and its cause (*ldap.Error, x509 errors) with errors.Is and As.
type stepError struct {
	step  error
	msg   string
	cause error
}

func (e *stepError) Error() string   { return e.msg }
func (e *stepError) Unwrap() []error { return []error{e.step, e.cause} }

// ldapConn is a bound connection to one DC.
type ldapConn struct {
	c    *ldap.Conn
	cfg  LDAPConfig
	stop func() bool
}

// dialLDAP connects, secures and binds. The connection closes when ctx ends, which aborts
// any operation in flight.
func dialLDAP(ctx context.Context, cfg LDAPConfig) (*ldapConn, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, &stepError{ErrLDAPConnect, fmt.Sprintf("LDAP URL %q: %v (check --ldap-url)", cfg.URL, err), err}
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	password, err := "", errors.New("no password configured")
	if cfg.Password != nil {
		password, err = cfg.Password()
	}
	if err != nil {
		return nil, &stepError{ErrLDAPBind, fmt.Sprintf("LDAP bind as %s to %s: %v", cfg.BindDN, cfg.URL, err), err}
	}
	tlsConf, verified, err := cfg.TLS.config(host)
	if err != nil {
		return nil, &stepError{ErrLDAPTLS, fmt.Sprintf("LDAP TLS for %s: %v", cfg.URL, err), err}
	}
	d := net.Dialer{Timeout: cfg.Timeout}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, &stepError{ErrLDAPConnect, fmt.Sprintf("LDAP connect to %s failed: %v (check --ldap-url and that the DC is up)", cfg.URL, err), err}
	}
	var c *ldap.Conn
	switch {
	case u.Scheme == "ldaps":
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, tlsError(cfg, verified(), err)
		}
		c = ldap.NewConn(tc, true)
		c.Start()
	default:
		c = ldap.NewConn(raw, false)
		c.Start()
		if cfg.StartTLS {
			raw.SetDeadline(time.Now().Add(cfg.Timeout)) //nolint:errcheck // a failed deadline fails the handshake
			err := c.StartTLS(tlsConf)
			raw.SetDeadline(time.Time{}) //nolint:errcheck // as above
			if err != nil {
				c.Close()
				return nil, tlsError(cfg, verified(), err)
			}
		}
	}
	c.SetTimeout(cfg.Timeout)
	conn := &ldapConn{c: c, cfg: cfg, stop: context.AfterFunc(ctx, func() { c.Close() })}
	if err := c.Bind(cfg.BindDN, password); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := fmt.Sprintf("LDAP bind as %s to %s refused: %s", cfg.BindDN, cfg.URL, ldapReason(err))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			msg += " (check --ldap-bind-dn and the password)"
		}
		return nil, &stepError{ErrLDAPBind, msg, err}
	}
	return conn, nil
}

// Close ends the connection.
func (c *ldapConn) Close() {
	c.stop()
	c.c.Close()
}

// tlsError explains a failed handshake by the certificate check that failed, when it was ours.
func tlsError(cfg LDAPConfig, verifyErr, err error) error {
	reason := ""
	if verifyErr != nil {
		err, reason = verifyErr, certReason(verifyErr)
	} else {
		reason = certReason(err)
		if strings.HasPrefix(cfg.URL, "ldaps:") && !strings.Contains(reason, "check --") && negativeSerialHint(err) == "" {
			reason += " (does the port speak LDAPS? check --ldap-url)"
		}
	}
	return &stepError{ErrLDAPTLS, fmt.Sprintf("LDAP connect to %s failed: TLS: %s", cfg.URL, reason), err}
}

// ldapReason words an LDAP error as "invalid credentials (LDAP 49): <server's message>".
func ldapReason(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	if le.ResultCode >= ldap.ErrorNetwork { // go-ldap's own codes: the cause says it all
		if le.Err != nil {
			return le.Err.Error()
		}
		return err.Error()
	}
	s := strings.ToLower(ldap.LDAPResultCodeMap[le.ResultCode]) + " (LDAP " + strconv.Itoa(int(le.ResultCode)) + ")"
	if le.Err != nil && strings.TrimSpace(le.Err.Error()) != "" {
		s += ": " + strings.TrimSpace(le.Err.Error())
	}
	return s
}

// search runs a paged subtree search and returns every entry, with ranged attribute values
// (member;range=0-1499) completed.
func (c *ldapConn) search(base, filter string, attrs []string, controls ...ldap.Control) ([]*ldap.Entry, error) {
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, append([]ldap.Control(nil), controls...))
	res, err := c.c.SearchWithPaging(req, uint32(c.cfg.PageSize))
	if err != nil {
		return nil, c.searchError(base, err)
	}
	for _, e := range res.Entries {
		if err := c.completeRanges(e); err != nil {
			return nil, err
		}
	}
	return res.Entries, nil
}

func (c *ldapConn) searchError(base string, err error) error {
	hint := ""
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax, ldap.LDAPResultReferral) {
		hint = " (check --ldap-base-dn)"
	}
	return &stepError{ErrLDAPSearch, fmt.Sprintf("LDAP search under %q on %s failed: %s%s", base, c.cfg.URL, ldapReason(err), hint), err}
}

// rootDSE is what a DC says about itself.
type rootDSE struct {
	defaultNC, configNC string
	server              string // dsServiceName: the DC's NTDS Settings object
	usn                 int64  // highestCommittedUSN
}

func (c *ldapConn) rootDSE() (rootDSE, error) {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)",
		[]string{"defaultNamingContext", "configurationNamingContext", "dsServiceName", "highestCommittedUSN"}, nil)
	res, err := c.c.Search(req)
	if err != nil {
		return rootDSE{}, c.searchError("", err)
	}
	if len(res.Entries) != 1 {
		return rootDSE{}, &stepError{ErrLDAPSearch, fmt.Sprintf("LDAP rootDSE of %s: %d entries, want 1", c.cfg.URL, len(res.Entries)), nil}
	}
	e := res.Entries[0]
	r := rootDSE{defaultNC: e.GetAttributeValue("defaultNamingContext"), configNC: e.GetAttributeValue("configurationNamingContext"),
		server: e.GetAttributeValue("dsServiceName")}
	r.usn, err = strconv.ParseInt(e.GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil || r.server == "" || r.defaultNC == "" {
		return rootDSE{}, &stepError{ErrLDAPSearch, fmt.Sprintf("LDAP rootDSE of %s lacks highestCommittedUSN, dsServiceName or defaultNamingContext: is it an Active Directory domain controller?", c.cfg.URL), err}
	}
	return r, nil
}

// completeRanges fetches the rest of every attribute the server cut into ranges (AD returns
// at most MaxValRange, 1500, values of member or memberOf at once, as member;range=0-1499).
func (c *ldapConn) completeRanges(e *ldap.Entry) error {
	for _, a := range e.Attributes {
		name, rng, ok := strings.Cut(a.Name, ";range=")
		if !ok {
			continue
		}
		for {
			_, hi, _ := strings.Cut(rng, "-")
			if hi == "*" {
				break
			}
			end, err := strconv.Atoi(hi)
			if err != nil {
				return &stepError{ErrLDAPSearch, fmt.Sprintf("LDAP %s of %q: bad range %q", name, e.DN, rng), err}
			}
			want := fmt.Sprintf("%s;range=%d-*", name, end+1)
			req := ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{want}, nil)
			res, err := c.c.Search(req)
			if err != nil {
				return c.searchError(e.DN, err)
			}
			rng = ""
			for _, r := range res.Entries {
				for _, more := range r.Attributes {
					if n, next, ok := strings.Cut(more.Name, ";range="); ok && strings.EqualFold(n, name) {
						a.Values = append(a.Values, more.Values...)
						a.ByteValues = append(a.ByteValues, more.ByteValues...)
						rng = next
					}
				}
			}
			if rng == "" {
				break
			}
		}
		a.Name = name
	}
	return nil
}

// readDNs reads the accounts and groups with the given lower-case DNs under root, in batches
// of OR filters; DNs that no longer exist are left out.
func (c *ldapConn) readDNs(root string, dns []string) ([]*ldap.Entry, error) {
	const batch = 50
	attrs := append(append([]string(nil), accountAttributes...), "cn", "member")
	var out []*ldap.Entry
	for len(dns) > 0 {
		n := min(batch, len(dns))
		var f strings.Builder
		f.WriteString("(&(|" + accountFilter + groupFilter + ")(|")
		for _, dn := range dns[:n] {
			f.WriteString("(distinguishedName=" + ldap.EscapeFilter(dn) + ")")
		}
		f.WriteString("))")
		entries, err := c.search(root, f.String(), attrs)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
		dns = dns[n:]
	}
	return out, nil
}

// netbiosName reads the domain's NetBIOS name from its crossRef in the configuration
// partition; "" (the name is then derived from the DN) when it cannot be read.
func (c *ldapConn) netbiosName(root rootDSE) string {
	if root.configNC == "" {
		return ""
	}
	entries, err := c.search("CN=Partitions,"+root.configNC,
		"(&(objectClass=crossRef)(nCName="+ldap.EscapeFilter(root.defaultNC)+"))", []string{"nETBIOSName"})
	if err != nil || len(entries) == 0 {
		return ""
	}
	return entries[0].GetAttributeValue("nETBIOSName")
}
