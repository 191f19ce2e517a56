package detection

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// sprayStep is what a spray detector emits for its n-th sprayed account after the threshold:
// the same alert id, the new target, one more piece of evidence.
func sprayStep(n int, sev adjoinv1.Severity) *adjoinv1.Alert {
	at := time.Date(2026, 11, 28, 7, 2, n, 0, time.UTC)
	return &adjoinv1.Alert{
		Id: "spray-1", Detector: "password-spray", Side: adjoinv1.Side_SIDE_IDENTITY, Version: 1, Severity: sev,
		Title:         "Password spray from 10.0.0.5",
		Description:   fmt.Sprintf("%d accounts", n+10),
		Entities:      []*adjoinv1.EntityRef{{SamAccountName: fmt.Sprintf("user%02d", n)}},
		Evidence:      []*adjoinv1.Evidence{{Summary: fmt.Sprintf("4771 user%02d failed", n), Time: timestamppb.New(at)}},
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at), UpdatedTime: timestamppb.New(at),
		MitreTechniques: []string{"T1110.003"},
	}
}

func TestVersionsNumberReEmissions(t *testing.T) {
	t.Parallel()
	var v Versions
	first := v.Next(sprayStep(0, adjoinv1.Severity_SEVERITY_MEDIUM))
	if first.GetVersion() != 1 {
		t.Fatalf("first emission: version %d, want 1", first.GetVersion())
	}
	if again := v.Next(sprayStep(0, adjoinv1.Severity_SEVERITY_MEDIUM)); again.GetVersion() != 1 || MsgID(again) != MsgID(first) {
		t.Fatalf("the same emission again: version %d, same MsgID %v; want version 1, same MsgID", again.GetVersion(), MsgID(again) == MsgID(first))
	}
	// A privileged target raises the severity; a later ordinary one does not lower it.
	second := v.Next(sprayStep(1, adjoinv1.Severity_SEVERITY_HIGH))
	third := v.Next(sprayStep(2, adjoinv1.Severity_SEVERITY_MEDIUM))
	if second.GetVersion() != 2 || third.GetVersion() != 3 {
		t.Fatalf("versions %d, %d; want 2, 3", second.GetVersion(), third.GetVersion())
	}
	if MsgID(second) == MsgID(first) || MsgID(third) == MsgID(second) {
		t.Fatal("a new version shares the Nats-Msg-Id of an earlier one: JetStream would drop it")
	}
	if third.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
		t.Errorf("severity %v after a high emission, want high", third.GetSeverity())
	}
	// Evidence and activity accumulate; entities and text are the emission's own.
	if n := len(third.GetEvidence()); n != 3 {
		t.Errorf("version 3 carries %d evidence, want 3", n)
	}
	if !third.GetFirstActivity().AsTime().Equal(first.GetFirstActivity().AsTime()) ||
		!third.GetLastActivity().AsTime().Equal(sprayStep(2, 0).GetLastActivity().AsTime()) {
		t.Errorf("activity %v..%v, want the span of all three", third.GetFirstActivity().AsTime(), third.GetLastActivity().AsTime())
	}
	if len(third.GetEntities()) != 1 || third.GetEntities()[0].GetSamAccountName() != "user02" || third.GetDescription() != "12 accounts" {
		t.Errorf("version 3 names %v, %q; want user02 and the latest description", third.GetEntities(), third.GetDescription())
	}
	// What Next returned is the caller's: changing it changes nothing remembered.
	third.Evidence = nil
	if fourth := v.Next(sprayStep(2, adjoinv1.Severity_SEVERITY_MEDIUM)); fourth.GetVersion() != 3 || len(fourth.GetEvidence()) != 3 {
		t.Errorf("re-emission after the caller changed its copy: version %d with %d evidence, want 3 with 3", fourth.GetVersion(), len(fourth.GetEvidence()))
	}
}

func TestVersionsBounds(t *testing.T) {
	t.Parallel()
	v := Versions{MaxAlerts: 2, MaxEvidence: 2}
	for n := range 4 {
		v.Next(sprayStep(n, adjoinv1.Severity_SEVERITY_MEDIUM))
	}
	if got := v.Next(sprayStep(4, adjoinv1.Severity_SEVERITY_MEDIUM)); len(got.GetEvidence()) != 2 || got.GetVersion() != 5 {
		t.Errorf("evidence %d at version %d, want the first 2 at version 5", len(got.GetEvidence()), got.GetVersion())
	}
	other := sprayStep(0, adjoinv1.Severity_SEVERITY_LOW)
	for _, id := range []string{"b", "c"} {
		other.Id = id
		v.Next(other)
	}
	if v.lru.Len() != 2 || v.byID["spray-1"] != nil {
		t.Fatalf("remembered %d alerts (spray-1 kept: %v), want 2 without the least recently updated", v.lru.Len(), v.byID["spray-1"] != nil)
	}
	// A forgotten alert starts again from its own version; its MsgID still differs from the
	// first version's, because the content does.
	if got := v.Next(sprayStep(5, adjoinv1.Severity_SEVERITY_MEDIUM)); got.GetVersion() != 1 ||
		MsgID(got) == MsgID(sprayStep(0, adjoinv1.Severity_SEVERITY_MEDIUM)) {
		t.Errorf("forgotten alert: version %d; want 1 with its own MsgID", got.GetVersion())
	}
}

func TestVersionsProductUpdates(t *testing.T) {
	t.Parallel()
	var v Versions
	open := sprayStep(0, adjoinv1.Severity_SEVERITY_HIGH)
	open.Version = 3
	resolved := sprayStep(1, adjoinv1.Severity_SEVERITY_LOW)
	resolved.Version, resolved.Status = 4, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
	v.Next(open)
	got := v.Next(resolved)
	if got.GetVersion() != 4 || got.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED || got.GetSeverity() != adjoinv1.Severity_SEVERITY_LOW {
		t.Fatalf("product update: version %d %v %v, want 4, resolved, low (the product lowered it)", got.GetVersion(), got.GetStatus(), got.GetSeverity())
	}
	// An older version arriving late changes nothing but what accumulates.
	late := v.Next(open)
	if late.GetVersion() != 4 || late.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
		t.Errorf("late version 3: got version %d %v, want 4 resolved", late.GetVersion(), late.GetStatus())
	}
}
