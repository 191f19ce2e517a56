package intake

import (
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/sambaaudit"
)

// SambaFormat is the ?format= of a Samba AD DC log (its JSON audit events among its own lines).
const SambaFormat = "samba"

// ParseSamba returns the Parser for the log a Samba AD DC named host writes: each audit event
// becomes an event of that host (sambaaudit.Event.Adjoin); headers, Samba's own messages and
// pieces of relayed subprocess output are skipped (ErrSkip); a line meant as an audit event
// that is not a valid one is refused as not-json (truncated or malformed), missing-field or
// invalid. The format a line is sent with is not looked at.
func ParseSamba(host string) Parser {
	return func(line []byte, _ string) (*adjoinv1.Event, error) {
		kind, ev, err := sambaaudit.Parse(line)
		switch {
		case err != nil:
			return nil, refused(err, sambaaudit.ErrMissingField)
		case kind != sambaaudit.AuditEvent:
			return nil, ErrSkip
		}
		return ev.Adjoin(host), nil
	}
}
