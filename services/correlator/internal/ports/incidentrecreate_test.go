package ports_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/app"
)

// TestIncidentBuilderRecreatesDeletedDurable: the builder's durable is deleted while it runs
// (an operator's mistake, a consumer lost in a cluster). Its pulls fail without an API error;
// it configures the consumer again, as every consumer does, and keeps building incidents.
// Before package consume it did so only when the server refused a pull with an API error.
func TestIncidentBuilderRecreatesDeletedDurable(t *testing.T) {
	r := newBuilderRig(t, shireIndex(0))
	s, ctx := r.s, r.ctx
	r.run(t, r.builder(nil))
	at := time.Date(2020, 9, 22, 2, 39, 10, 0, time.UTC)
	correlate := func(id string) {
		t.Helper()
		a := &adjoinv1.Alert{Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Severity: adjoinv1.Severity_SEVERITY_HIGH,
			Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1,
			FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Second))}
		publish(t, s.JS, app.EntitySubject(adjoinv1.EntityKind_ENTITY_KIND_USER, keyPgustavo), id+"@user",
			&adjoinv1.CorrelatedAlert{Alert: a, Resolutions: resolvedTo(keyPgustavo), EntityKey: keyPgustavo, CorrelatedTime: timestamppb.Now()})
	}
	holds := func(id string) error {
		_, _, err := storedIncident(ctx, r.incidents, entity.HashID("incident", id))
		return err
	}
	correlate("before")
	eventually(t, 10*time.Second, func() error { return holds("before") })

	if err := s.JS.DeleteConsumer(ctx, natsx.StreamCorrelated, "incidents"); err != nil {
		t.Fatal(err)
	}
	correlate("after")
	eventually(t, 20*time.Second, func() error { return holds("after") })
	if _, err := s.JS.Consumer(ctx, natsx.StreamCorrelated, "incidents"); err != nil {
		t.Errorf("durable not back: %v", err)
	}
}
