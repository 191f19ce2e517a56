// Package wire builds the correlator's CorrelatedAlert payloads from parts already encoded, so
// that the alert, the largest part, is not marshalled again (stage 1 embeds the bytes it
// received on ALERTS, or marshals the alert once whatever its entities), a partition owner
// decodes only what it counts, and its correlated copy is the COUNTS payload it received plus its
// other-side ids rather than a second marshal of the same message.
//
// Protobuf's deterministic encoding writes fields in field-number order, and a message's
// encoding is the concatenation of its fields' encodings: so the alert's field (1) followed by
// the encoding of the other fields (2 and up) is the deterministic encoding of the whole
// message, byte for byte, and appending field 7 (the last) to an encoding without it is too.
package wire

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Field numbers of CorrelatedAlert this package writes.
const (
	fieldAlert     protowire.Number = 1
	fieldOtherSide protowire.Number = 7
)

var deterministic = proto.MarshalOptions{Deterministic: true}

// typeName is the Adjoin-Type header of every payload built here.
var typeName = string((&adjoinv1.CorrelatedAlert{}).ProtoReflect().Descriptor().FullName())

// Alert is the encoded alert field of a CorrelatedAlert, to be shared by its messages.
func Alert(a *adjoinv1.Alert) ([]byte, error) {
	data, err := deterministic.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("marshal alert %s: %w", a.GetId(), err)
	}
	return AlertField(data), nil
}

// AlertField is the alert field of a CorrelatedAlert whose alert is encoded as data.
func AlertField(data []byte) []byte {
	field := protowire.AppendTag(make([]byte, 0, len(data)+16), fieldAlert, protowire.BytesType)
	return protowire.AppendBytes(field, data)
}

// Correlated is the deterministic encoding of c, whose alert field is already encoded as
// alert (from Alert of c.Alert). c is not changed.
func Correlated(alert []byte, c *adjoinv1.CorrelatedAlert) ([]byte, error) {
	rest := &adjoinv1.CorrelatedAlert{ // every field but the alert (TestEveryField keeps it so)
		Resolutions: c.GetResolutions(), EntityKey: c.GetEntityKey(), Reason: c.GetReason(),
		CorrelatedTime: c.GetCorrelatedTime(), IncidentId: c.GetIncidentId(), OtherSideAlertIds: c.GetOtherSideAlertIds(),
	}
	return appendRest(alert, rest)
}

// appendRest appends the encoding of rest, which has no alert, to a copy of alert.
func appendRest(alert []byte, rest *adjoinv1.CorrelatedAlert) ([]byte, error) {
	out := make([]byte, len(alert), len(alert)+deterministic.Size(rest))
	copy(out, alert)
	out, err := deterministic.MarshalAppend(out, rest)
	if err != nil {
		return nil, fmt.Errorf("marshal correlated alert %s: %w", rest.GetEntityKey(), err)
	}
	return out, nil
}

// WithOtherSide is data, the encoding of a CorrelatedAlert without other-side ids, with ids
// appended as its other_side_alert_ids. data is not changed.
func WithOtherSide(data []byte, ids []string) []byte {
	size := len(data)
	for _, id := range ids {
		size += protowire.SizeTag(fieldOtherSide) + protowire.SizeBytes(len(id))
	}
	out := append(make([]byte, 0, size), data...)
	for _, id := range ids {
		out = protowire.AppendTag(out, fieldOtherSide, protowire.BytesType)
		out = protowire.AppendString(out, id)
	}
	return out
}

// Msg wraps data, an encoded CorrelatedAlert, with the contract's headers and the
// Nats-Msg-Id id, as natsx.NewMsg does.
func Msg(subject, id string, data []byte) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(natsx.HeaderContentType, natsx.ContentTypeProto)
	msg.Header.Set(natsx.HeaderType, typeName)
	if id != "" {
		msg.Header.Set(jetstream.MsgIDHeader, id)
	}
	return msg
}
