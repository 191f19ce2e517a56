package correlator_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// startJetStream starts an embedded server with the topology provisioned, stopped at cleanup,
// and returns its client URL and a JetStream client on it.
func startJetStream(tb testing.TB, syncAlways bool) (string, jetstream.JetStream) {
	tb.Helper()
	s, err := natsx.StartEmbedded(natsx.EmbeddedOptions{StoreDir: tb.TempDir(), Port: -1, SyncAlways: syncAlways})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		tb.Fatal(err)
	}
	if err := natsx.Provision(context.Background(), js, natsx.NewTopology(1)); err != nil {
		tb.Fatal(err)
	}
	return s.ClientURL(), js
}

// testAlert is a user alert as the ingestors would publish it.
func testAlert(id string, side adjoinv1.Side, sev adjoinv1.Severity, status adjoinv1.AlertStatus, version int64, at time.Time, sid string) *adjoinv1.Alert {
	return &adjoinv1.Alert{
		Id: id, Side: side, Source: "bench", Detector: "synthetic", Title: "synthetic alert " + id,
		Severity: sev, Status: status, Version: version,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Minute)),
		UpdatedTime: timestamppb.New(at.Add(time.Duration(version) * time.Hour)),
		Entities:    []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: sid}},
	}
}

func alertSubject(side adjoinv1.Side) string {
	if side == adjoinv1.Side_SIDE_IDENTITY {
		return natsx.SubjectIdentityAlerts + ".test"
	}
	return natsx.SubjectEndpointAlerts + ".test"
}
