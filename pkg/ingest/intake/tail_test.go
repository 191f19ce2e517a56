package intake_test

import (
	"context"
	"testing"

	"bytes"

	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/tail"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestTailHandlerZeekTSV feeds the real LSASS_campaign_01 kerberos.log (Zeek TSV) through the
// tail handler: every record is stored as a Zeek event with its fields.
func TestTailHandlerZeekTSV(t *testing.T) {
	s := natstest.Start(t)
	raw := sample.Read(t, "otrf/zeek/LSASS_campaign_01/kerberos.log")
	var header, lines [][]byte
	for _, l := range bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n")) {
		if bytes.HasPrefix(l, []byte("#")) {
			if len(lines) == 0 {
				header = append(header, l)
			}
			continue
		}
		lines = append(lines, l)
	}
	h := &intake.Handler{JS: s.JS, Service: "dcingest", Parse: intake.ParseAny, Log: zap.NewNop(), MaxClockSkew: intake.DefaultMaxClockSkew,
		Subject: func(ev *adjoinv1.Event) string { return intake.EventSubject(natsx.SubjectDCEvents, ev) }}
	if err := intake.TailHandler(h, "")(context.Background(), tail.Source{Path: "kerberos.log", Header: header}, lines, 1); err != nil {
		t.Fatal(err)
	}
	st, err := s.JS.Stream(context.Background(), natsx.StreamDCEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(lines)) || len(lines) == 0 {
		t.Fatalf("DC_EVENTS holds %d events, want %d", info.State.Msgs, len(lines))
	}
	m, err := st.GetLastMsgForSubject(context.Background(), "events.dc.zeek_kerberos.0")
	if err != nil {
		t.Fatal(err)
	}
	var ev adjoinv1.Event
	if err := natsx.Decode(m.Header, m.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetFormat() != "zeek" || ev.GetFields()["id.orig_h"] == "" || ev.GetTime() == nil {
		t.Errorf("event = %v", &ev)
	}
}
