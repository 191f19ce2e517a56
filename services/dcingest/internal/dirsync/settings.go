package dirsync

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldapsource"
)

// LDAPSettings are the settings of the directory sync from a domain controller over LDAP;
// with no URL there is none.
type LDAPSettings struct {
	URL          string
	BindDN       string
	PasswordFile string
	// Password comes from ADJOIN_LDAP_PASSWORD only, never from a flag, which every process
	// listing would show.
	Password           string
	CAFile             string
	StartTLS           bool
	InsecureSkipVerify bool
	ServerName         string
	BaseDN             string
	Interval           time.Duration
	FullInterval       time.Duration
	PageSize           int
	Timeout            time.Duration
}

// Flags defines the LDAP settings on s.
func (l *LDAPSettings) Flags(s *config.Set) {
	s.String(&l.URL, "ldap-url", "", "domain controller to sync users and computers from: ldaps://dc1.corp.example, or ldap://… with --ldap-starttls; empty: no LDAP sync")
	s.String(&l.BindDN, "ldap-bind-dn", "", "account of the LDAP simple bind, as a DN or a UPN; a normal domain user can read what adjoin needs")
	s.String(&l.PasswordFile, "ldap-password-file", "", "file holding the bind password, re-read at every connection (or set ADJOIN_LDAP_PASSWORD)")
	s.EnvOnly(&l.Password, "ldap-password", "LDAP bind password, when --ldap-password-file is not used")
	s.String(&l.CAFile, "ldap-ca-file", "", "PEM file of the CA that signed the DC's certificate (default: the system's CAs)")
	s.Bool(&l.StartTLS, "ldap-starttls", false, "upgrade an ldap:// connection with StartTLS before binding (required with ldap://)")
	s.Bool(&l.InsecureSkipVerify, "ldap-insecure-skip-verify", false, "accept any certificate from the DC (labs only: anyone in the path could read the password)")
	s.String(&l.ServerName, "ldap-server-name", "", "name the DC's certificate must carry, when --ldap-url names it otherwise (e.g. an address)")
	s.String(&l.BaseDN, "ldap-base-dn", "", "where users and computers are read (default: the whole domain, the rootDSE's defaultNamingContext)")
	s.Duration(&l.Interval, "ldap-interval", time.Minute, "time between incremental LDAP syncs")
	s.Duration(&l.FullInterval, "ldap-full-interval", 24*time.Hour, "time between full LDAP syncs, which also remove accounts no longer seen")
	s.Int(&l.PageSize, "ldap-page-size", 500, "entries per page of the paged LDAP searches")
	s.Duration(&l.Timeout, "ldap-timeout", 30*time.Second, "time allowed to connect to the DC and for each LDAP operation")
}

// Validate names the first bad LDAP setting.
func (l LDAPSettings) Validate() error {
	if l.URL == "" {
		for _, s := range []struct{ name, v string }{{"ldap-bind-dn", l.BindDN}, {"ldap-password-file", l.PasswordFile},
			{"ldap-ca-file", l.CAFile}, {"ldap-server-name", l.ServerName}, {"ldap-base-dn", l.BaseDN}} {
			if s.v != "" {
				return fmt.Errorf("%s: set, but ldap-url is empty", s.name)
			}
		}
		return nil
	}
	u, err := url.Parse(l.URL)
	switch {
	case err != nil:
		return fmt.Errorf("ldap-url: %w", err)
	case u.Scheme != "ldaps" && u.Scheme != "ldap":
		return fmt.Errorf("ldap-url: %q, want ldaps://host[:port] or ldap://host[:port]", l.URL)
	case u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return fmt.Errorf("ldap-url: %q, want only a scheme, a host and a port (the base DN is --ldap-base-dn)", l.URL)
	case u.Scheme == "ldap" && !l.StartTLS:
		return fmt.Errorf("ldap-url: %s would send the bind password in clear text; use ldaps:// or set ldap-starttls", l.URL)
	case u.Scheme == "ldaps" && l.StartTLS:
		return errors.New("ldap-starttls: only with ldap:// URLs; ldaps:// is TLS from the start")
	case l.BindDN == "":
		return errors.New("ldap-bind-dn: required with ldap-url (a DN or a UPN)")
	case l.PasswordFile != "" && l.Password != "":
		return errors.New("ldap-password-file: set, and ADJOIN_LDAP_PASSWORD too; use one")
	case l.PasswordFile == "" && l.Password == "":
		return errors.New("ldap-password-file: required with ldap-url (or set ADJOIN_LDAP_PASSWORD)")
	case l.CAFile != "" && l.InsecureSkipVerify:
		return errors.New("ldap-insecure-skip-verify: contradicts ldap-ca-file; use one")
	case l.Interval < time.Second:
		return fmt.Errorf("ldap-interval: %s, want at least 1s", l.Interval)
	case l.FullInterval < l.Interval:
		return fmt.Errorf("ldap-full-interval: %s, want at least ldap-interval (%s)", l.FullInterval, l.Interval)
	case l.PageSize < 1 || l.PageSize > 10000:
		return fmt.Errorf("ldap-page-size: %d, want 1 to 10000", l.PageSize)
	case l.Timeout <= 0:
		return fmt.Errorf("ldap-timeout: %s, want more than 0", l.Timeout)
	}
	if l.PasswordFile != "" {
		if _, err := l.password(); err != nil {
			return err
		}
	}
	if l.CAFile != "" {
		if _, err := ldapsource.LoadCA(l.CAFile); err != nil {
			return fmt.Errorf("ldap-ca-file: %w", err)
		}
	}
	if l.BaseDN != "" {
		if _, err := ldap.ParseDN(l.BaseDN); err != nil {
			return fmt.Errorf("ldap-base-dn: %q: %w", l.BaseDN, err)
		}
	}
	return nil
}

// Source is what the entities of this sync carry in Entity.source.
func (l LDAPSettings) Source() string { return "ldap:" + l.URL }

// password reads the bind password: the file's first line, else ADJOIN_LDAP_PASSWORD.
func (l LDAPSettings) password() (string, error) {
	if l.PasswordFile == "" {
		return l.Password, nil
	}
	b, err := os.ReadFile(l.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("ldap-password-file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	if pw = strings.TrimSuffix(pw, "\r"); pw == "" {
		return "", fmt.Errorf("ldap-password-file: %s is empty", l.PasswordFile)
	}
	return pw, nil
}

// ldapConfig is what the sync needs to reach the DC.
func (l LDAPSettings) ldapConfig() ldapsource.LDAPConfig {
	return ldapsource.LDAPConfig{
		URL: l.URL, StartTLS: l.StartTLS, BindDN: l.BindDN, Password: l.password, BaseDN: l.BaseDN,
		PageSize: l.PageSize, Timeout: l.Timeout,
		TLS: ldapsource.TLSOptions{CAFile: l.CAFile, ServerName: l.ServerName, InsecureSkipVerify: l.InsecureSkipVerify},
	}
}
