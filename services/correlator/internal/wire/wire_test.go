package wire

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

func sample() *adjoinv1.CorrelatedAlert {
	at := timestamppb.New(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC))
	return &adjoinv1.CorrelatedAlert{
		Alert: &adjoinv1.Alert{
			Id: "a1", Side: adjoinv1.Side_SIDE_IDENTITY, Title: "DCSync", Severity: adjoinv1.Severity_SEVERITY_HIGH,
			Version: 3, LastActivity: at, MitreTechniques: []string{"T1003.006"},
			Entities: []*adjoinv1.EntityRef{{Sid: "S-1-5-21-1-2-3-1104"}, {NetbiosName: "WS01"}},
		},
		Resolutions: []*adjoinv1.Resolution{{RefIndex: 0, EntityKey: "user-1"}, {RefIndex: 1, Tried: []string{"netbios"}}},
		EntityKey:   "user-1", Reason: "r", CorrelatedTime: at, IncidentId: "i", OtherSideAlertIds: []string{"x"},
	}
}

func TestCorrelatedIsTheDeterministicEncoding(t *testing.T) {
	c := sample()
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	alert, err := Alert(c.GetAlert())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Correlated(alert, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Correlated differs from the deterministic marshal:\n got %x\nwant %x", got, want)
	}
	if c.GetAlert() == nil || c.GetAlert().GetId() != "a1" {
		t.Fatal("Correlated changed its argument")
	}
	// An alert as received, in any field order: the message decodes to c.
	received := protowire.AppendTag(nil, 15, protowire.VarintType)
	received = protowire.AppendVarint(received, 3)
	rest, err := proto.Marshal(&adjoinv1.Alert{Id: "a1", Side: c.Alert.Side, Title: "DCSync", Severity: c.Alert.Severity,
		LastActivity: c.Alert.LastActivity, MitreTechniques: c.Alert.MitreTechniques, Entities: c.Alert.Entities})
	if err != nil {
		t.Fatal(err)
	}
	got, err = Correlated(AlertField(append(received, rest...)), c)
	if err != nil {
		t.Fatal(err)
	}
	var back adjoinv1.CorrelatedAlert
	if err := proto.Unmarshal(got, &back); err != nil || !proto.Equal(&back, c) {
		t.Fatalf("with the alert as received: %v, %v\nwant %v", err, &back, c)
	}
}

func TestWithOtherSideIsTheDeterministicEncoding(t *testing.T) {
	c := sample()
	c.OtherSideAlertIds, c.IncidentId = nil, ""
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	kept := bytes.Clone(data)
	ids := []string{"e1", "e2", ""}
	got := WithOtherSide(data, ids)
	c.OtherSideAlertIds = ids
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("WithOtherSide differs from the deterministic marshal:\n got %x\nwant %x", got, want)
	}
	if !bytes.Equal(data, kept) {
		t.Fatal("WithOtherSide changed its argument")
	}
	if !bytes.Equal(WithOtherSide(data, nil), data) {
		t.Fatal("WithOtherSide without ids is not the payload itself")
	}
}

// TestEveryField fails when CorrelatedAlert gains a field Correlated does not copy.
func TestEveryField(t *testing.T) {
	if n := (&adjoinv1.CorrelatedAlert{}).ProtoReflect().Descriptor().Fields().Len(); n != 7 {
		t.Fatalf("CorrelatedAlert has %d fields; Correlated copies 7: add the new ones", n)
	}
}

func TestMsgHeadersAsNewMsg(t *testing.T) {
	c := sample()
	want, err := natsx.NewMsg("s", "id", c)
	if err != nil {
		t.Fatal(err)
	}
	got := Msg("s", "id", want.Data)
	for _, h := range []string{natsx.HeaderContentType, natsx.HeaderType, "Nats-Msg-Id"} {
		if got.Header.Get(h) != want.Header.Get(h) {
			t.Errorf("header %s = %q, want %q", h, got.Header.Get(h), want.Header.Get(h))
		}
	}
	if len(Msg("s", "", nil).Header.Values("Nats-Msg-Id")) != 0 {
		t.Error("a message without id has a Nats-Msg-Id")
	}
}

func TestDecodeForCountKeepsWhatCountingReads(t *testing.T) {
	c := sample()
	c.Alert.Evidence = []*adjoinv1.Evidence{{}}
	c.Alert.FirstActivity, c.Alert.UpdatedTime = c.CorrelatedTime, c.CorrelatedTime
	data, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got adjoinv1.CorrelatedAlert
	if err := DecodeForCount(typeName, data, &got); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(c).(*adjoinv1.CorrelatedAlert)
	a := want.Alert
	want.Alert = &adjoinv1.Alert{Id: a.Id, Side: a.Side, Severity: a.Severity, Status: a.Status,
		FirstActivity: a.FirstActivity, LastActivity: a.LastActivity, UpdatedTime: a.UpdatedTime, Version: a.Version}
	for i, r := range want.Resolutions {
		want.Resolutions[i] = &adjoinv1.Resolution{EntityKey: r.EntityKey}
	}
	if !proto.Equal(&got, want) {
		t.Fatalf("DecodeForCount = %v\nwant %v", &got, want)
	}
}

func TestDecodeForCountRefuses(t *testing.T) {
	data, err := proto.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"cut":          data[:len(data)-2],
		"cut in alert": data[:10],
		"bad tag":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"bad inside":   {0x0a, 0x02, 0x0a, 0x05},
	} {
		var c adjoinv1.CorrelatedAlert
		if err := DecodeForCount("", bad, &c); err == nil {
			t.Errorf("%s: decoded %v", name, &c)
		}
	}
	var c adjoinv1.CorrelatedAlert
	if err := DecodeForCount("adjoin.v1.Alert", data, &c); !errors.Is(err, natsx.ErrWrongType) {
		t.Errorf("wrong type: %v, want ErrWrongType", err)
	}
}

func TestDecodeForIncidentsKeepsWhatGroupingReads(t *testing.T) {
	c := sample()
	c.Alert.Evidence, c.Alert.Description = []*adjoinv1.Evidence{{Summary: "4662"}}, "long text"
	data, err := proto.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got adjoinv1.CorrelatedAlert
	if err := DecodeForIncidents(typeName, data, &got); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(c).(*adjoinv1.CorrelatedAlert)
	a := want.Alert
	want.Alert = &adjoinv1.Alert{Id: a.Id, Side: a.Side, Severity: a.Severity, Status: a.Status,
		LastActivity: a.LastActivity, Version: a.Version, Entities: a.Entities}
	for i, r := range want.Resolutions {
		want.Resolutions[i] = &adjoinv1.Resolution{RefIndex: r.RefIndex, EntityKey: r.EntityKey}
	}
	if !proto.Equal(&got, want) {
		t.Fatalf("DecodeForIncidents = %v\nwant %v", &got, want)
	}
}
