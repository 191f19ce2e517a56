package natsx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Header names and values of the payload contract.
const (
	HeaderContentType = "Content-Type"
	HeaderType        = "Adjoin-Type"
	ContentTypeProto  = "application/protobuf"
	// HeaderError carries the reason a dead-lettered message was refused.
	HeaderError = "Adjoin-Error"
	// HeaderOrigin says where a dead-lettered message came from ("http:1.2.3.4 line 7").
	HeaderOrigin = "Adjoin-Origin"
)

// ErrWrongType means a message's Adjoin-Type header names another message than expected.
var ErrWrongType = errors.New("unexpected Adjoin-Type")

// NewMsg marshals m deterministically and wraps it with the contract's headers and the
// Nats-Msg-Id used for deduplication.
func NewMsg(subject, id string, m proto.Message) (*nats.Msg, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderContentType, ContentTypeProto)
	msg.Header.Set(HeaderType, string(m.ProtoReflect().Descriptor().FullName()))
	if id != "" {
		msg.Header.Set(jetstream.MsgIDHeader, id)
	}
	return msg, nil
}

// Decode unmarshals a contract payload into m after checking its Adjoin-Type header, when one
// is present.
func Decode(header nats.Header, data []byte, m proto.Message) error {
	want := string(m.ProtoReflect().Descriptor().FullName())
	if got := header.Get(HeaderType); got != "" && got != want {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongType, got, want)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("decode %s: %w", want, err)
	}
	return nil
}

// Publish publishes m synchronously and returns once JetStream has stored it.
func Publish(ctx context.Context, js jetstream.JetStream, subject, id string, m proto.Message) (*jetstream.PubAck, error) {
	msg, err := NewMsg(subject, id, m)
	if err != nil {
		return nil, err
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("publish %s id %s: %w", subject, id, err)
	}
	return ack, nil
}

// DeadLetterMsg builds the DEADLETTER copy of refused input: the raw bytes, with the reason in
// the subject (deadletter.<service>.<reason>) and the error and origin in headers. Its id is a
// hash of service, reason and data, so refusing the same input twice stores it once.
// The error and origin are cut to MaxHeaderText: they may quote input (a ?format= value), and
// a header past the payload limit would refuse the copy and so fail the whole batch.
func DeadLetterMsg(service, reason string, data []byte, errText, origin string) *nats.Msg {
	msg := nats.NewMsg(SubjectDeadLetter + "." + Token(service) + "." + Token(reason))
	msg.Data = data
	msg.Header.Set(HeaderError, Truncate(errText, MaxHeaderText))
	msg.Header.Set(HeaderOrigin, Truncate(origin, MaxHeaderText))
	msg.Header.Set(jetstream.MsgIDHeader, deadLetterID(service, reason, data))
	return msg
}

// MaxHeaderText bounds the text of a header built from input (a dead-letter copy's error and
// origin).
const MaxHeaderText = 1 << 10

// Truncate returns s cut to at most max bytes on a UTF-8 boundary, ending with "…" when cut,
// for text built from input that goes into a bounded place (a header, an answer).
func Truncate(s string, max int) string {
	const mark = "…"
	if len(s) <= max {
		return s
	}
	if max < len(mark) {
		return ""
	}
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// deadLetterID is the Nats-Msg-Id of a dead letter: the same letter sent twice is stored once.
// (entity.HashID builds the same shape of id; natsx cannot import entity, which imports natsx.)
func deadLetterID(service, reason string, data []byte) string {
	h := sha256.New()
	for _, p := range [][]byte{[]byte("dl"), []byte(service), []byte(reason), data} {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Token makes s a single safe subject token: lower case, with anything outside [a-z0-9_-]
// replaced by '_', and bounded (see Bound), since channel and detector names come from input.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return Bound(mapSafe(strings.ToLower(s), false))
}
