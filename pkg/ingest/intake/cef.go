package intake

import (
	"errors"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
)

// FormatCEF is the Event format of CEF lines.
const FormatCEF = cef.Format

// ParseCEF is the Parser for ArcSight CEF lines (a syslog header before "CEF:" is skipped).
// The event's channel is cef/<vendor>/<product> as written, its event id the signature id when
// that is a number, its host the extension's dvchost, its time the first readable of start, rt
// and end, and its fields the extension plus the header under cef.* keys (see cef.Fields), so
// the line can be rebuilt with cef.FromFields. format must be "" or "cef".
func ParseCEF(line []byte, format string) (*adjoinv1.Event, error) {
	if format != "" && format != FormatCEF {
		return nil, &LineError{Reason: "wrong-format", Err: errors.New("line is cef, not " + format)}
	}
	e, err := cef.Parse(string(line))
	if err != nil {
		reason := "invalid-cef"
		if errors.Is(err, cef.ErrNotCEF) {
			reason = "not-cef"
		}
		return nil, &LineError{Reason: reason, Err: err}
	}
	ev := &adjoinv1.Event{
		Format:  FormatCEF,
		Channel: "cef/" + e.Vendor + "/" + e.Product,
		Host:    e.Ext["dvchost"],
		Fields:  e.Fields(),
	}
	if id, err := strconv.ParseInt(e.SignatureID, 10, 32); err == nil {
		ev.EventId = int32(id)
	}
	if t, ok := e.Time("start", "rt", "end"); ok {
		ev.Time = timestamppb.New(t)
	}
	return ev, nil
}
