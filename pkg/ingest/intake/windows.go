package intake

import (
	"errors"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// ParseWindows is the Parser for Windows events as JSON (Security, System, Sysmon) in any shape
// package winevent reads. format "" detects the shape.
func ParseWindows(line []byte, format string) (*adjoinv1.Event, error) {
	ev, err := winevent.Parse(line)
	if err != nil {
		return nil, refused(err, winevent.ErrMissingField)
	}
	if format != "" && format != ev.Format {
		return nil, &LineError{Reason: "wrong-format", Err: errors.New("line is " + ev.Format + ", not " + format)}
	}
	return &adjoinv1.Event{
		Format:          "winevent-" + ev.Format,
		Channel:         ev.Channel,
		EventId:         int32(ev.EventID),
		Host:            ev.Host,
		Time:            timestamppb.New(ev.Time),
		TimeApproximate: ev.TimeApproximate,
		Fields:          ev.Fields,
		RecordId:        ev.RecordID,
	}, nil
}

// EventSubject is <prefix>.<channel>.<event id>, for example events.dc.security.4662.
func EventSubject(prefix string, ev *adjoinv1.Event) string {
	return prefix + "." + natsx.Token(ev.GetChannel()) + "." + strconv.Itoa(int(ev.GetEventId()))
}
