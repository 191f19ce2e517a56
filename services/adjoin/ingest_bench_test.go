package adjoin

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/endpointingest"
)

// largest is the largest sample recording (6,983 events, 13 MB, four hosts incl. the DC).
const largest = "otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.sec-sys-sysmon-no-sysmon12.json"

// BenchmarkParseDetect is parse + both sides' detectors on one core, per event.
func BenchmarkParseDetect(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(sample.Read(b, largest)), []byte("\n"))
	detectors := append(dcingest.Detectors(directory.NewIndex(), dcingest.DetectorOptions{}), endpointingest.Detectors()...)
	b.SetBytes(int64(len(sample.Read(b, largest)) / len(lines)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := intake.ParseWindows(lines[i%len(lines)], "")
		if err != nil {
			b.Fatal(err)
		}
		_ = detection.Run(detectors, ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIntakeToJetStream is the whole intake path: parse, publish asynchronously with
// bounded in-flight acknowledgements, wait for every acknowledgement, on a SyncAlways-free
// test server (file storage). Each iteration ingests the largest file once, into a fresh
// subject space so nothing is deduplicated.
func BenchmarkIntakeToJetStream(b *testing.B) {
	body := sample.Read(b, largest)
	events := bytes.Count(body, []byte("\n"))
	s := natstest.Start(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// A new dedup window per iteration: purge the stream so ids are new again.
		st, err := s.JS.Stream(context.Background(), natsx.StreamDCEvents)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Purge(context.Background()); err != nil {
			b.Fatal(err)
		}
		h := &intake.Handler{JS: s.JS, Service: "bench", Parse: intake.ParseWindows, Log: zap.NewNop(), MaxClockSkew: intake.DefaultMaxClockSkew,
			Subject: func(ev *adjoinv1.Event) string { return intake.EventSubject(natsx.SubjectDCEvents, ev) }}
		b.StartTimer()
		resp, err := h.Ingest(context.Background(), bytes.NewReader(body), "", "bench")
		if err != nil || resp.Accepted != events {
			b.Fatalf("accepted %d of %d: %v", resp.Accepted, events, err)
		}
	}
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
}
