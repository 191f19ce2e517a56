// Package ldaptest makes and changes accounts on the lab Samba AD DC of pkg/testkit/sambatest for the
// LDAP sync tests. Every account it makes is named ls_<random>, so that reruns and other tests
// on the same DC do not clash, and is deleted when the test ends.
package ldaptest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/adjoin/adjoin/pkg/testkit/sambatest"
)

// UACDontRequirePreauth is the userAccountControl bit of accounts open to AS-REP roasting.
const UACDontRequirePreauth = 0x400000

// Lab is the DC and an administrator's LDAP connection to it.
type Lab struct {
	DC    *sambatest.DC
	admin *ldap.Conn
}

// Open connects to the DC of ADJOIN_SAMBA_ENV as its administrator (skipping without one).
func Open(t testing.TB) *Lab {
	t.Helper()
	dc := sambatest.Load(t)
	// The test's own plumbing: the code under test checks the certificate, this does not.
	c, err := ldap.DialURL(dc.LDAPSURL(), ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // test plumbing
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(dc.BindDN(), dc.AdminPassword); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Lab{DC: dc, admin: c}
}

// Name returns ls_ and a random suffix, short enough for a NetBIOS computer name.
func Name(t testing.TB, kind string) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ls_" + kind + hex.EncodeToString(b)
}

// Password is the password of every test account.
const Password = "Ls-pass-12345-X!"

// User creates a user with samba-tool and returns its DN.
func (l *Lab) User(t testing.TB, name string) string {
	t.Helper()
	l.DC.Tool(t, "user", "create", name, Password)
	dn := "CN=" + name + ",CN=Users," + l.DC.BaseDN
	t.Cleanup(func() { l.Delete(t, dn) })
	return dn
}

// Group creates a global security group with samba-tool and returns its DN.
func (l *Lab) Group(t testing.TB, name string) string {
	t.Helper()
	l.DC.Tool(t, "group", "add", name)
	dn := "CN=" + name + ",CN=Users," + l.DC.BaseDN
	t.Cleanup(func() { l.Delete(t, dn) })
	return dn
}

// Computer creates a computer account with samba-tool, gives it dNSHostName as a domain join
// would, and returns its DN.
func (l *Lab) Computer(t testing.TB, name, dnsHostName string) string {
	t.Helper()
	l.DC.Tool(t, "computer", "create", name)
	dn := "CN=" + name + ",CN=Computers," + l.DC.BaseDN
	t.Cleanup(func() { l.Delete(t, dn) })
	l.Replace(t, dn, "dNSHostName", dnsHostName)
	return dn
}

// Replace sets one attribute of dn over LDAP.
func (l *Lab) Replace(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace(attr, values)
	if err := l.admin.Modify(m); err != nil {
		t.Fatalf("modify %s of %s: %v", attr, dn, err)
	}
}

// UAC returns the userAccountControl of dn.
func (l *Lab) UAC(t testing.TB, dn string) int {
	t.Helper()
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"userAccountControl"}, nil)
	res, err := l.admin.Search(req)
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read userAccountControl of %s: %v", dn, err)
	}
	var uac int
	fmt.Sscan(res.Entries[0].GetAttributeValue("userAccountControl"), &uac)
	return uac
}

// Delete deletes dn; one already gone is not an error.
func (l *Lab) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := l.admin.Del(ldap.NewDelRequest(dn, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("delete %s: %v", dn, err)
	}
}

// Identity is what samba-tool shows of an account: its SID and objectGUID as text, formatted
// by Samba rather than by the code under test.
type Identity struct{ SID, GUID string }

var (
	sidLine  = regexp.MustCompile(`(?m)^objectSid: (S-[0-9-]+)\s*$`)
	guidLine = regexp.MustCompile(`(?m)^objectGUID: ([0-9a-fA-F-]{36})\s*$`)
)

// Show returns the identity of a user ("user") or computer ("computer") by samba-tool.
func (l *Lab) Show(t testing.TB, kind, name string) Identity {
	t.Helper()
	out := l.DC.Tool(t, kind, "show", name, "--attributes=objectSid,objectGUID")
	sid, guid := sidLine.FindStringSubmatch(out), guidLine.FindStringSubmatch(out)
	if sid == nil || guid == nil {
		t.Fatalf("samba-tool %s show %s: no objectSid or objectGUID in\n%s", kind, name, out)
	}
	return Identity{SID: sid[1], GUID: strings.ToLower(guid[1])}
}
