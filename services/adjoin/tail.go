package adjoin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/adjoin/adjoin/pkg/config"
	_ "github.com/adjoin/adjoin/pkg/gen/adjoin/v1" // registers the adjoin.v1 types for decoding
	"github.com/adjoin/adjoin/pkg/natsx"
)

// tailLine is one printed message.
type tailLine struct {
	Subject string          `json:"subject"`
	Seq     uint64          `json:"seq"`
	Time    time.Time       `json:"time"`
	Type    string          `json:"type,omitempty"`
	Message json.RawMessage `json:"message,omitempty"`
	Raw     string          `json:"raw,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// tailFirstTry is how long tail tries to reach NATS before it says it is waiting.
const tailFirstTry = 2 * time.Second

// runTail prints the messages as JSON lines on stdout; what it is doing (waiting for NATS,
// following, the count at the end) goes to stderr, so that stdout stays machine-readable.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var conn natsx.ConnectOptions
	var all bool
	var fromSeq, limit int
	s := commandSet("tail")
	conn.Flags(s)
	s.Bool(&all, "all", false, "start from the first stored message instead of new ones")
	s.Int(&fromSeq, "from-seq", 0, "start from this stream sequence (a resume cursor)")
	s.Int(&limit, "max", 0, "stop after this many messages (0: follow until interrupted)")
	if err := s.Parse(args, stdout); err != nil {
		if err == config.ErrHelp {
			return nil
		}
		return err
	}
	subject := "correlated.>"
	if len(s.Args()) > 1 {
		return errors.New("adjoin tail: at most one SUBJECT (default correlated.>)")
	}
	if len(s.Args()) == 1 {
		subject = s.Args()[0]
	}
	if err := conn.Validate(); err != nil {
		return err
	}
	if limit < 0 {
		return fmt.Errorf("max: %d, want >= 0", limit)
	}
	conn.Name = "adjoin-tail"
	first, cancel := context.WithTimeout(ctx, tailFirstTry)
	nc, err := natsx.Connect(first, conn, zap.NewNop())
	cancel()
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "adjoin tail: waiting for NATS at %s (is the stack running? Ctrl-C to stop)\n", conn.URL)
		nc, err = natsx.Connect(ctx, conn, zap.NewNop())
	}
	if err != nil {
		return fmt.Errorf("nats-url %s: %w (is the stack running?)", conn.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.StreamNameBySubject(ctx, subject)
	if err != nil {
		return fmt.Errorf("no stream holds %s: %w", subject, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case fromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, uint64(fromSeq)
	case all:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := "Ctrl-C to stop"
	if limit > 0 {
		stop = fmt.Sprintf("stops after %d, or Ctrl-C", limit)
	}
	fmt.Fprintf(stderr, "adjoin tail: following %s in stream %s (%s)\n", subject, stream, stop)
	go func() { <-ctx.Done(); it.Stop() }()
	printed := 0
	defer func() { fmt.Fprintf(stderr, "adjoin tail: %d message(s) printed\n", printed) }()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		if err := enc.Encode(describe(m)); err != nil {
			return err
		}
		if printed++; printed == limit {
			return nil
		}
	}
}

// describe turns a stored message into a printable line, decoding contract payloads by their
// Adjoin-Type header.
func describe(m jetstream.Msg) tailLine {
	line := tailLine{Subject: m.Subject(), Type: m.Headers().Get(natsx.HeaderType)}
	if meta, err := m.Metadata(); err == nil {
		line.Seq, line.Time = meta.Sequence.Stream, meta.Timestamp
	}
	if line.Type == "" {
		line.Raw = string(m.Data())
		if e := m.Headers().Get(natsx.HeaderError); e != "" {
			line.Error = e
		}
		return line
	}
	msg, err := decodeAny(m.Headers(), m.Data(), line.Type)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	line.Message = b
	return line
}

func decodeAny(h nats.Header, data []byte, name string) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("unknown Adjoin-Type %q: %w", name, err)
	}
	msg := mt.New().Interface()
	return msg, natsx.Decode(h, data, msg)
}
