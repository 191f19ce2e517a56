package dcingest

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

// SambaConfig is the Samba AD DC audit log source: the log files a Samba domain controller
// writes its JSON audit events into, followed like --tail files, and the DC's name, which
// the log does not carry.
type SambaConfig struct {
	// Log lists file patterns of the DC's log (log file = ... in its smb.conf).
	Log string
	// DC is the host name of the DC that writes Log, given to every event as its Host; also the
	// default host of POST /v1/events?format=samba.
	DC string
}

// Flags defines the Samba settings on s.
func (c *SambaConfig) Flags(s *config.Set) {
	s.String(&c.Log, "samba-log", "", "comma-separated file patterns of a Samba AD DC's log with its JSON audit events (log level auth_json_audit:3 dsdb_json_audit:5 ...), followed like --tail")
	s.String(&c.DC, "samba-dc", "", "host name of the Samba AD DC writing --samba-log (the log does not name it); required with --samba-log")
}

// hostNameRE is a DNS or NetBIOS host name, short or fully qualified.
var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$`)

// Validate names the first bad Samba setting.
func (c SambaConfig) Validate() error {
	patterns := config.SplitList(c.Log)
	for _, p := range patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("samba-log: pattern %q: %w", p, err)
		}
	}
	switch {
	case len(patterns) > 0 && c.DC == "":
		return errors.New("samba-dc: required with --samba-log (the host name of the DC writing the log)")
	case c.DC != "" && (len(c.DC) > 253 || !hostNameRE.MatchString(c.DC)):
		return fmt.Errorf("samba-dc: %q is not a host name", c.DC)
	}
	return nil
}

// follow is the Samba log as files for the intake to follow, offsets kept under
// "tail.dcingest.samba.".
func (c SambaConfig) follow() []intake.Follow {
	patterns := config.SplitList(c.Log)
	if len(patterns) == 0 {
		return nil
	}
	return []intake.Follow{{Name: "samba", Patterns: patterns, Parse: intake.ParseSamba(c.DC)}}
}

// formats reads POST /v1/events?format=samba as a Samba log, of the DC named by &host= or, by
// default, --samba-dc.
func (c SambaConfig) formats() map[string]intake.RequestParser {
	return map[string]intake.RequestParser{intake.SambaFormat: func(q url.Values) (intake.Parser, error) {
		host := q.Get("host")
		if host == "" {
			host = c.DC
		}
		switch {
		case host == "":
			return nil, errors.New("host= is required (the DC that wrote the log; default --samba-dc, not set)")
		case len(host) > 253 || !hostNameRE.MatchString(host):
			return nil, fmt.Errorf("host=%q is not a host name", host)
		}
		return intake.ParseSamba(host), nil
	}}
}
