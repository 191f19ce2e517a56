package badge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// statusSays polls GetIntegrationStatus until check accepts it.
func statusSays(t *testing.T, h *harness, check func(*adjoinv1.GetIntegrationStatusResponse) error) *adjoinv1.GetIntegrationStatusResponse {
	t.Helper()
	var last *adjoinv1.GetIntegrationStatusResponse
	testkit.Eventually(t, 5*time.Second, func() error {
		resp, err := h.client.GetIntegrationStatus(rpcCtx(t), &adjoinv1.GetIntegrationStatusRequest{})
		if err != nil {
			return err
		}
		last = resp
		if err := check(resp); err != nil {
			return fmt.Errorf("%w in\n%s", err, prototext.Format(resp))
		}
		return nil
	})
	return last
}

type sideFacts struct{ events, alerts uint64 }

func factsAre(identity, endpoint sideFacts, waiting uint64) func(*adjoinv1.GetIntegrationStatusResponse) error {
	return func(r *adjoinv1.GetIntegrationStatusResponse) error {
		got := [2]sideFacts{{r.GetIdentity().GetEvents(), r.GetIdentity().GetAlerts()}, {r.GetEndpoint().GetEvents(), r.GetEndpoint().GetAlerts()}}
		if got != [2]sideFacts{identity, endpoint} || r.GetAlertsWaiting() != waiting {
			return fmt.Errorf("identity %+v endpoint %+v waiting %d, want %+v %+v %d", got[0], got[1], r.GetAlertsWaiting(), identity, endpoint, waiting)
		}
		return nil
	}
}

func TestGetIntegrationStatus(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	start := time.Now()

	resp := statusSays(t, h, factsAre(sideFacts{}, sideFacts{}, 0))
	switch {
	case !resp.GetNatsConnected() || !resp.GetIntegrationEnabled() || !resp.GetIdentity().GetEnabled() || !resp.GetEndpoint().GetEnabled():
		t.Errorf("fresh status %v: want connected, both sides on", resp)
	case resp.GetIdentity().GetLastDataReceived() != nil || resp.GetEndpoint().GetLastDataReceived() != nil:
		t.Errorf("fresh status %v: data received before any was sent", resp)
	case resp.GetIdentity().GetSide() != adjoinv1.Side_SIDE_IDENTITY || resp.GetEndpoint().GetSide() != adjoinv1.Side_SIDE_ENDPOINT:
		t.Errorf("fresh status %v: sides mislabelled", resp)
	case resp.GetDirectory().GetEntities() != uint64(len(shire())) || resp.GetDirectory().GetLastError() != "":
		t.Errorf("directory %v, want %d entities and no error", resp.GetDirectory(), len(shire()))
	case resp.GetDirectory().GetLastChange() == nil:
		t.Errorf("directory %v: no last_change after the load", resp.GetDirectory())
	}

	event := func(id string, eventID int32) *adjoinv1.Event {
		return &adjoinv1.Event{Id: id, EventId: eventID, Host: "MORDORDC.theshire.local", Channel: "Security"}
	}
	steps := []struct {
		name      string
		publish   func(t *testing.T)
		check     func(*adjoinv1.GetIntegrationStatusResponse) error
		wantAfter func(*adjoinv1.GetIntegrationStatusResponse) error
	}{
		{"events of each side", func(t *testing.T) {
			for i := range 3 {
				h.publish(t, "events.dc.security.4624", fmt.Sprint("dc-ev-", i), event(fmt.Sprint("dc-ev-", i), 4624))
			}
			h.publish(t, "events.endpoint.sysmon.1", "ep-ev-1", event("ep-ev-1", 1))
			h.publish(t, "events.endpoint.sysmon.10", "ep-ev-2", event("ep-ev-2", 10))
		}, factsAre(sideFacts{events: 3}, sideFacts{events: 2}, 0), func(r *adjoinv1.GetIntegrationStatusResponse) error {
			for _, s := range []*adjoinv1.SideStatus{r.GetIdentity(), r.GetEndpoint()} {
				if got := s.GetLastDataReceived().AsTime(); got.Before(start.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
					return fmt.Errorf("%s last_data_received %s, want about now", s.GetSide(), got)
				}
			}
			return nil
		}},
		{"alerts of each side, no correlator yet", func(t *testing.T) {
			h.publish(t, natsx.SubjectIdentityAlerts+".x", "id-al-1", &adjoinv1.Alert{Id: "id-al-1", Side: adjoinv1.Side_SIDE_IDENTITY})
			h.publish(t, natsx.SubjectIdentityAlerts+".x", "id-al-2", &adjoinv1.Alert{Id: "id-al-2", Side: adjoinv1.Side_SIDE_IDENTITY})
			h.publish(t, natsx.SubjectEndpointAlerts+".x", "ep-al-1", &adjoinv1.Alert{Id: "ep-al-1", Side: adjoinv1.Side_SIDE_ENDPOINT})
		}, factsAre(sideFacts{events: 3, alerts: 2}, sideFacts{events: 2, alerts: 1}, 3), nil},
		{"correlator took all, acknowledged two", func(t *testing.T) {
			ackAlerts(t, h, 3, 2)
		}, factsAre(sideFacts{events: 3, alerts: 2}, sideFacts{events: 2, alerts: 1}, 1), func(r *adjoinv1.GetIntegrationStatusResponse) error {
			if r.GetLagSeconds() <= 0 {
				return fmt.Errorf("lag_seconds %v with an alert waiting, want its age", r.GetLagSeconds())
			}
			return nil
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.publish(t)
			resp := statusSays(t, h, st.check)
			if st.wantAfter != nil {
				if err := st.wantAfter(resp); err != nil {
					t.Error(err)
				}
			}
		})
	}

	t.Run("directory emptied", func(t *testing.T) {
		for _, k := range shireKeys() {
			if err := h.directory.Delete(context.Background(), k); err != nil {
				t.Fatal(err)
			}
		}
		statusSays(t, h, func(r *adjoinv1.GetIntegrationStatusResponse) error {
			if r.GetDirectory().GetEntities() != 0 || r.GetDirectory().GetLastError() == "" {
				return errors.New("want no entities and a last_error")
			}
			return nil
		})
	})
}

// ackAlerts plays the correlator: its durable consumer on ALERTS takes n alerts and
// acknowledges the first acks.
func ackAlerts(t *testing.T, h *harness, n, acks int) {
	t.Helper()
	ctx := rpcCtx(t)
	cons, err := h.nats.JS.CreateOrUpdateConsumer(ctx, natsx.StreamAlerts, jetstream.ConsumerConfig{
		Durable: "correlator", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if i < acks {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		i++
	}
	if i != n {
		t.Fatalf("fetched %d alerts, want %d", i, n)
	}
}

func TestSetIntegration(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	type want struct{ identity, endpoint bool }
	tests := []struct {
		name    string
		side    adjoinv1.Side
		enabled bool
		want    want
		wantErr codes.Code
	}{
		{"endpoint off", adjoinv1.Side_SIDE_ENDPOINT, false, want{true, false}, codes.OK},
		{"endpoint off again", adjoinv1.Side_SIDE_ENDPOINT, false, want{true, false}, codes.OK},
		{"identity off too", adjoinv1.Side_SIDE_IDENTITY, false, want{false, false}, codes.OK},
		{"endpoint on, identity still off", adjoinv1.Side_SIDE_ENDPOINT, true, want{false, true}, codes.OK},
		{"unspecified side", adjoinv1.Side_SIDE_UNSPECIFIED, true, want{false, true}, codes.InvalidArgument},
		{"side that does not exist", adjoinv1.Side(7), true, want{false, true}, codes.InvalidArgument},
		{"identity on", adjoinv1.Side_SIDE_IDENTITY, true, want{true, true}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.client.SetIntegration(rpcCtx(t), &adjoinv1.SetIntegrationRequest{Side: tt.side, Enabled: tt.enabled})
			if got := status.Code(err); got != tt.wantErr {
				t.Fatalf("code %s (%v), want %s", got, err, tt.wantErr)
			}
			on := tt.want.identity && tt.want.endpoint
			if tt.wantErr == codes.OK {
				st := resp.GetStatus()
				if got := (want{st.GetIdentity().GetEnabled(), st.GetEndpoint().GetEnabled()}); got != tt.want || st.GetIntegrationEnabled() != on {
					t.Errorf("status identity/endpoint enabled %+v, integration %v; want %+v, %v", got, st.GetIntegrationEnabled(), tt.want, on)
				}
				if !st.GetNatsConnected() || st.GetDirectory().GetEntities() != uint64(len(shire())) {
					t.Errorf("status %v: want the full status", st)
				}
				stored, err := h.config.Get(rpcCtx(t), app.ToggleKey(tt.side))
				if err != nil || app.ToggleOn(string(stored.Value())) != tt.enabled {
					t.Errorf("adjoin_config %s = %v, %v; want enabled=%v", app.ToggleKey(tt.side), stored, err, tt.enabled)
				}
			}
			// The response is the state after the change: badges follow at once.
			b, err := h.get(t, bySID(keyWS6))
			if err != nil {
				t.Fatal(err)
			}
			reason := reasonOff
			if on {
				reason = reasonNone
			}
			if b.GetIntegrationEnabled() != on || b.GetIdentity().GetGreyedReason() != reason || b.GetIdentity().GetKnown() != on ||
				(!on && b.GetEndpoint().GetGreyedReason() != reasonOff) {
				t.Errorf("badge after the change:\n%s", prototext.Format(b))
			}
		})
	}
}
