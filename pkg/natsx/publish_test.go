package natsx_test

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

func testAlert() *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id:     "mdi-0001",
		Side:   adjoinv1.Side_SIDE_IDENTITY,
		Source: "dcingest",
		Entities: []*adjoinv1.EntityRef{{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_USER,
			Sid:  "S-1-5-21-3669966080-2286457517-972388166-1104", SamAccountName: `THESHIRE\pgustavo`,
		}},
	}
}

func TestNewMsgDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	in := testAlert()
	msg, err := natsx.NewMsg("alerts.identity.dcsync", "mdi-0001", in)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "alerts.identity.dcsync" {
		t.Errorf("subject = %q", msg.Subject)
	}
	for name, want := range map[string]string{
		"Content-Type":        "application/protobuf",
		"Adjoin-Type":         "adjoin.v1.Alert",
		jetstream.MsgIDHeader: "mdi-0001",
	} {
		if got := msg.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	var out adjoinv1.Alert
	if err := natsx.Decode(msg.Header, msg.Data, &out); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !proto.Equal(in, &out) {
		t.Errorf("round trip changed the alert:\n got %v\nwant %v", &out, in)
	}

	// Deterministic marshalling: the same message gives the same bytes.
	again, err := natsx.NewMsg("alerts.identity.dcsync", "mdi-0001", testAlert())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg.Data, again.Data) {
		t.Errorf("two marshallings of the same alert differ")
	}
}

func TestNewMsgWithoutID(t *testing.T) {
	t.Parallel()
	msg, err := natsx.NewMsg("alerts.identity.x", "", testAlert())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := msg.Header[jetstream.MsgIDHeader]; ok {
		t.Errorf("empty id set a %s header", jetstream.MsgIDHeader)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	good, err := proto.Marshal(testAlert())
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(typ string) nats.Header {
		h := nats.Header{}
		if typ != "" {
			h.Set(natsx.HeaderType, typ)
		}
		return h
	}
	tests := []struct {
		name    string
		header  nats.Header
		data    []byte
		wantErr error
		anyErr  bool
	}{
		{name: "matching type", header: hdr("adjoin.v1.Alert"), data: good},
		{name: "no header", header: nil, data: good},
		{name: "header without type", header: hdr(""), data: good},
		{name: "other type", header: hdr("adjoin.v1.Entity"), data: good, wantErr: natsx.ErrWrongType},
		{name: "type case differs", header: hdr("adjoin.v1.alert"), data: good, wantErr: natsx.ErrWrongType},
		{name: "truncated payload", header: hdr("adjoin.v1.Alert"), data: good[:len(good)-3], anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out adjoinv1.Alert
			err := natsx.Decode(tt.header, tt.data, &out)
			if tt.anyErr {
				if err == nil || errors.Is(err, natsx.ErrWrongType) {
					t.Fatalf("Decode = %v, want a decode error", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode = %v, want %v", err, tt.wantErr)
			}
			if err == nil && out.GetId() != "mdi-0001" {
				t.Errorf("decoded id = %q", out.GetId())
			}
		})
	}
}

// What Publish stores carries the contract's headers.
func TestPublishStoresHeaders(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	ack, err := natsx.Publish(ctx, srv.JS, "alerts.identity.dcsync", "mdi-0001", testAlert())
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != natsx.StreamAlerts || ack.Duplicate {
		t.Errorf("ack = %+v, want a new message on ALERTS", ack)
	}
	s, err := srv.JS.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Header.Get(natsx.HeaderContentType) != natsx.ContentTypeProto || raw.Header.Get(natsx.HeaderType) != "adjoin.v1.Alert" ||
		raw.Header.Get(jetstream.MsgIDHeader) != "mdi-0001" {
		t.Errorf("stored headers = %v", raw.Header)
	}
	var out adjoinv1.Alert
	if err := natsx.Decode(raw.Header, raw.Data, &out); err != nil || !proto.Equal(&out, testAlert()) {
		t.Errorf("stored alert = %v, %v", &out, err)
	}
	// The same id again is deduplicated by the stream.
	ack, err = natsx.Publish(ctx, srv.JS, "alerts.identity.dcsync", "mdi-0001", testAlert())
	if err != nil || !ack.Duplicate {
		t.Errorf("second Publish = %+v, %v; want a duplicate", ack, err)
	}
	// A subject no stream listens on is an error naming subject and id.
	_, err = natsx.Publish(ctx, srv.JS, "nowhere.x", "n1", testAlert())
	if err == nil || !strings.Contains(err.Error(), "nowhere.x") || !strings.Contains(err.Error(), "n1") {
		t.Errorf("Publish to a subject without stream = %v, want an error naming it", err)
	}
}

func TestBatchDeduplicates(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	b := natsx.NewBatch(srv.JS)
	for _, id := range []string{"alert-1", "alert-1", "alert-2"} {
		msg, err := natsx.NewMsg("alerts.endpoint.edr", id, testAlert())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(msg); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 3 {
		t.Errorf("Len = %d, want 3", b.Len())
	}
	dups, err := b.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if dups != 1 {
		t.Errorf("duplicates = %d, want 1", dups)
	}
	if n := streamMsgs(t, srv.JS, natsx.StreamAlerts); n != 2 {
		t.Errorf("ALERTS holds %d messages, want 2", n)
	}
	if b.Len() != 0 {
		t.Errorf("Len after Wait = %d, want 0", b.Len())
	}

	// The batch is reusable, and a second Wait counts only what was added since.
	msg, _ := natsx.NewMsg("alerts.endpoint.edr", "alert-2", testAlert())
	if err := b.Add(msg); err != nil {
		t.Fatal(err)
	}
	if dups, err := b.Wait(ctx); err != nil || dups != 1 {
		t.Errorf("second Wait = %d, %v; want 1 duplicate", dups, err)
	}
	if dups, err := b.Wait(ctx); err != nil || dups != 0 {
		t.Errorf("Wait on an empty batch = %d, %v; want 0, nil", dups, err)
	}
}

func TestBatchReportsFailedPublish(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	b := natsx.NewBatch(srv.JS)
	ok, _ := natsx.NewMsg("alerts.endpoint.edr", "fine", testAlert())
	bad, _ := natsx.NewMsg("no.stream.here", "lost-1", testAlert())
	for _, m := range []*nats.Msg{ok, bad} {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "no.stream.here") || !strings.Contains(err.Error(), "lost-1") {
		t.Fatalf("Wait = %v, want an error naming the subject and id", err)
	}
}

func TestDeadLetterMsg(t *testing.T) {
	t.Parallel()
	data := []byte(`{"EventID": "oops"`)
	tests := []struct {
		name        string
		service     string
		reason      string
		wantSubject string
	}{
		{name: "plain", service: "dcingest", reason: "not-json", wantSubject: "deadletter.dcingest.not-json"},
		{name: "tokens made safe", service: "DC Ingest", reason: "bad.field>*", wantSubject: "deadletter.dc_ingest.bad_field__"},
		{name: "empty reason", service: "correlator", reason: "", wantSubject: "deadletter.correlator._"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msg := natsx.DeadLetterMsg(tt.service, tt.reason, data, "line is not JSON", "http:127.0.0.1:5555 line 7")
			if msg.Subject != tt.wantSubject {
				t.Errorf("subject = %q, want %q", msg.Subject, tt.wantSubject)
			}
			if !bytes.Equal(msg.Data, data) {
				t.Errorf("data = %q, want the raw input", msg.Data)
			}
			if got := msg.Header.Get(natsx.HeaderError); got != "line is not JSON" {
				t.Errorf("%s = %q", natsx.HeaderError, got)
			}
			if got := msg.Header.Get(natsx.HeaderOrigin); got != "http:127.0.0.1:5555 line 7" {
				t.Errorf("%s = %q", natsx.HeaderOrigin, got)
			}
			if got, want := msg.Header.Get(jetstream.MsgIDHeader), entity.HashID("dl", tt.service, tt.reason, string(data)); got != want {
				t.Errorf("id = %q, want %q", got, want)
			}
		})
	}

	// Same input, other origin: same id (stored once). Other input: other id.
	a := natsx.DeadLetterMsg("dcingest", "not-json", data, "e", "origin A")
	b := natsx.DeadLetterMsg("dcingest", "not-json", data, "e", "origin B")
	c := natsx.DeadLetterMsg("dcingest", "not-json", []byte("other"), "e", "origin A")
	if a.Header.Get(jetstream.MsgIDHeader) != b.Header.Get(jetstream.MsgIDHeader) {
		t.Errorf("the same refused input got two ids")
	}
	if a.Header.Get(jetstream.MsgIDHeader) == c.Header.Get(jetstream.MsgIDHeader) {
		t.Errorf("different refused inputs share an id")
	}
}

func TestDeadLetterStoredOnce(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := testCtx(t)
	for range 2 {
		if _, err := srv.JS.PublishMsg(ctx, natsx.DeadLetterMsg("dcingest", "not-json", []byte("garbage"), "e", "o")); err != nil {
			t.Fatal(err)
		}
	}
	if n := streamMsgs(t, srv.JS, natsx.StreamDeadLetter); n != 1 {
		t.Errorf("DEADLETTER holds %d messages, want 1", n)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: "_"},
		{name: "lower", in: "security", want: "security"},
		{name: "upper folded", in: "Security", want: "security"},
		{name: "sysmon channel", in: "Microsoft-Windows-Sysmon/Operational", want: "microsoft-windows-sysmon_operational"},
		{name: "dots split subjects", in: "a.b", want: "a_b"},
		{name: "wildcards", in: "*>", want: "__"},
		{name: "whitespace", in: "Directory Service", want: "directory_service"},
		{name: "underscore and dash kept", in: "too-long_x", want: "too-long_x"},
		{name: "digits", in: "4662", want: "4662"},
		{name: "non-ASCII is one _ per rune", in: "Ärger", want: "_rger"},
	}
	valid := regexp.MustCompile(`^[a-z0-9_-]+$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := natsx.Token(tt.in)
			if got != tt.want {
				t.Errorf("Token(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !valid.MatchString(got) {
				t.Errorf("Token(%q) = %q is not a single safe subject token", tt.in, got)
			}
		})
	}
}

func TestHashID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{name: "deterministic", a: []string{"dl", "dcingest", "x"}, b: []string{"dl", "dcingest", "x"}, same: true},
		{name: "parts are separated", a: []string{"ab", "c"}, b: []string{"a", "bc"}},
		{name: "empty part counts", a: []string{"a"}, b: []string{"a", ""}},
		{name: "order matters", a: []string{"a", "b"}, b: []string{"b", "a"}},
		{name: "case matters", a: []string{"A"}, b: []string{"a"}},
	}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := entity.HashID(tt.a...), entity.HashID(tt.b...)
			if (a == b) != tt.same {
				t.Errorf("HashID(%q) = %s, HashID(%q) = %s; same = %v, want %v", tt.a, a, tt.b, b, a == b, tt.same)
			}
			if !hex32.MatchString(a) {
				t.Errorf("HashID(%q) = %q, want 32 hex digits", tt.a, a)
			}
		})
	}
	// Known values: no parts is SHA-256 of nothing; one empty part hashes a single NUL.
	if got, want := entity.HashID(), "e3b0c44298fc1c149afbf4c8996fb924"; got != want {
		t.Errorf("HashID() = %s, want %s", got, want)
	}
	if got, want := entity.HashID(""), "6e340b9cffb37a989ca544e6bb780a2c"; got != want {
		t.Errorf(`HashID("") = %s, want %s`, got, want)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{name: "short", s: "abc", max: 3, want: "abc"},
		{name: "cut", s: "abcdef", max: 5, want: "ab…"},
		{name: "cut before a multi-byte rune", s: "aéééé", max: 6, want: "aé…"},
		{name: "no room for the mark", s: "abcdef", max: 2, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := natsx.Truncate(tt.s, tt.max)
			if got != tt.want || len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
		})
	}
}

// A refusal quoting a huge input (a ?format= of 1 MB) must not make the copy too large to
// store, which would fail the whole batch.
func TestDeadLetterMsgBoundsHeaders(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	huge := strings.Repeat("f", 1<<20)
	msg := natsx.DeadLetterMsg("dcingest", "wrong-format", []byte("line"), "line is nxlog, not "+huge, "http:1.2.3.4 "+huge)
	for _, h := range []string{natsx.HeaderError, natsx.HeaderOrigin} {
		if got := msg.Header.Get(h); len(got) > natsx.MaxHeaderText || !strings.HasSuffix(got, "…") {
			t.Errorf("%s has %d bytes, want at most %d, marked as cut", h, len(got), natsx.MaxHeaderText)
		}
	}
	if _, err := srv.JS.PublishMsg(testCtx(t), msg); err != nil {
		t.Fatalf("storing the copy: %v", err)
	}
}
