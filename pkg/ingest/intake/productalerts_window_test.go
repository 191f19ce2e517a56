package intake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// stallingJS answers its first stalls publishes as a client whose async window stayed full
// past the stall wait (200 ms) does, then publishes for real: the window is shared by every
// request on the connection, so another request's burst of events is enough.
type stallingJS struct {
	jetstream.JetStream
	stalls *int
}

func (s stallingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if *s.stalls > 0 {
		*s.stalls--
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	return s.JetStream.PublishMsgAsync(m, opts...)
}

// A product alert posted while the connection's async window is full waits for a slot and is
// stored, as an events body does, instead of failing with 503 through no fault of its sender.
func TestProductAlertsFullWindow(t *testing.T) {
	t.Parallel()
	s := natstest.Start(t)
	stalls := 3
	p := &ProductAlerts{JS: stallingJS{JetStream: s.JS, stalls: &stalls}, Service: "endpointingest", Side: adjoinv1.Side_SIDE_ENDPOINT,
		Log: zaptest.NewLogger(t), Convert: productalert.FromMDEAlert, MaxClockSkew: DefaultMaxClockSkew}
	body := `{"value": [{"id": "da-window", "severity": "High", "status": "New", "title": "Suspicious access to LSASS service",
  "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625", "computerDnsName": "WORKSTATION6.theshire.local",
  "alertCreationTime": "2020-10-18T23:50:06Z", "lastUpdateTime": "2020-10-18T23:51:00Z",
  "relatedUser": {"userName": "pgustavo", "domainName": "THESHIRE"}}]}`
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/product-alerts/mde", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("answer %d %s, want 200 once a slot frees", rec.Code, rec.Body.String())
	}
	if stalls != 0 {
		t.Errorf("%d stalls left, want every one met", stalls)
	}
	if n := len(storedMsgs(t, s.JS, natsx.StreamAlerts)); n != 1 {
		t.Errorf("ALERTS holds %d alerts, want 1", n)
	}
}
