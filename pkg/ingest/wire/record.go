package wire

import (
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Format is the adjoin.v1.Event Format of every event built from a Record.
const Format = "wire"

// ChannelPrefix starts the Event Channel of a Record: "network/kerberos", "network/dce_rpc".
const ChannelPrefix = "network/"

// Record is one decoded exchange: a Kerberos request and its reply, one DCE/RPC call, one
// SMB2 tree connect...
type Record struct {
	// Log names the kind of record the way Zeek names its logs: "kerberos", "dce_rpc"...
	Log string
	// Time is the capture time of the packet that completed the record.
	Time time.Time
	// Fields holds the columns, by Zeek's names where Zeek has one.
	Fields map[string]string
}

// Event turns the record into the event the DC ingestor publishes on DC_EVENTS: Format
// "wire", Channel "network/"+Log, Host the sensor's name.
func (r Record) Event(sensor string) *adjoinv1.Event {
	return &adjoinv1.Event{
		Format:  Format,
		Channel: ChannelPrefix + r.Log,
		Host:    sensor,
		Time:    timestamppb.New(r.Time),
		Fields:  maps.Clone(r.Fields),
	}
}
