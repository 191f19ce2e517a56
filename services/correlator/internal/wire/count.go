package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Fields of CorrelatedAlert's nested messages that counting reads: the alert's id (1), side
// (2), severity (10), status (11), first, last activity and updated time (12-14) and version
// (15); a resolution's entity key (2). Grouping into incidents reads the alert's entity
// references (16) too, and a resolution's reference index (1).
var (
	countAlert         = fields(1, 2, 10, 11, 12, 13, 14, 15)
	countResolution    = fields(2)
	incidentAlert      = fields(1, 2, 10, 11, 12, 13, 14, 15, 16)
	incidentResolution = fields(1, 2)
)

const fieldResolutions protowire.Number = 2

func fields(nums ...protowire.Number) map[protowire.Number]bool {
	set := make(map[protowire.Number]bool, len(nums))
	for _, n := range nums {
		set[n] = true
	}
	return set
}

// errMalformed means a payload is not a well-formed protobuf encoding.
var errMalformed = errors.New("malformed protobuf")

// DecodeForCount decodes data, a COUNTS payload with the Adjoin-Type header typ (checked as
// natsx.Decode does), into c with only what a partition owner folds and copies: every field
// of the message, but of its alert only the fields the counters read, and of its resolutions
// only the entity keys. The alert's text, entity references and evidence, most of its bytes,
// are skipped unread, so a fault inside them goes unnoticed here (the correlated copy is the
// payload itself, and its readers decode it whole).
func DecodeForCount(typ string, data []byte, c *adjoinv1.CorrelatedAlert) error {
	return decodeSlim(typ, data, c, countAlert, countResolution)
}

// DecodeForIncidents is DecodeForCount for the incident builder, which reads the alert's
// entity references and the resolutions' reference indexes as well.
func DecodeForIncidents(typ string, data []byte, c *adjoinv1.CorrelatedAlert) error {
	return decodeSlim(typ, data, c, incidentAlert, incidentResolution)
}

// decodeSlim decodes data into c with only the fields alert keeps of its alert and resolution
// of its resolutions.
func decodeSlim(typ string, data []byte, c *adjoinv1.CorrelatedAlert, alert, resolution map[protowire.Number]bool) error {
	if typ != "" && typ != typeName {
		return fmt.Errorf("%w: got %q, want %q", natsx.ErrWrongType, typ, typeName)
	}
	slim, err := slim(data, alert, resolution)
	if err == nil {
		err = proto.Unmarshal(slim, c)
	}
	if err != nil {
		return fmt.Errorf("decode %s: %w", typeName, err)
	}
	return nil
}

// slim is data with its alert and resolutions cut down to the fields in alert and resolution.
func slim(data []byte, alert, resolution map[protowire.Number]bool) ([]byte, error) {
	out := make([]byte, 0, 256)
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		size := protowire.ConsumeFieldValue(num, typ, data[n:])
		if size < 0 {
			return nil, fmt.Errorf("%w: field %d: %w", errMalformed, num, protowire.ParseError(size))
		}
		field, value := data[:n+size], data[n:n+size]
		data = data[n+size:]
		var keep map[protowire.Number]bool
		switch {
		case typ != protowire.BytesType:
		case num == fieldAlert:
			keep = alert
		case num == fieldResolutions:
			keep = resolution
		}
		if keep == nil {
			out = append(out, field...)
			continue
		}
		inner, _ := protowire.ConsumeBytes(value)
		part, err := only(inner, keep)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", num, err)
		}
		out = protowire.AppendTag(out, num, protowire.BytesType)
		out = protowire.AppendBytes(out, part)
	}
	return out, nil
}

// only is the fields of msg, an encoded message, whose numbers are in keep.
func only(msg []byte, keep map[protowire.Number]bool) ([]byte, error) {
	var out []byte
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		size := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if size < 0 {
			return nil, fmt.Errorf("%w: field %d: %w", errMalformed, num, protowire.ParseError(size))
		}
		if keep[num] {
			out = append(out, msg[:n+size]...)
		}
		msg = msg[n+size:]
	}
	return out, nil
}
