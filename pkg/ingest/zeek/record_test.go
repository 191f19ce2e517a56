package zeek

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func TestZeekRecordEvent(t *testing.T) {
	t.Parallel()
	tm := time.Date(2020, 4, 30, 0, 36, 38, 972990000, time.UTC)
	r := Record{Log: "kerberos", Time: tm, UID: "CAG1Rc22yRMLn0xFpl", Sensor: "bobs.bigwheel.local",
		Fields: map[string]string{"client": "pbeesly/DMEVALS.LOCAL"}}
	ev := r.Event()
	want := &adjoinv1.Event{
		Format: "zeek", Channel: "zeek/kerberos", Host: "bobs.bigwheel.local", Time: ev.GetTime(),
		Fields: map[string]string{"client": "pbeesly/DMEVALS.LOCAL", "uid": "CAG1Rc22yRMLn0xFpl"},
	}
	if !proto.Equal(ev, want) || !ev.GetTime().AsTime().Equal(tm) {
		t.Errorf("Event() = %v, want %v at %v", ev, want, tm)
	}
	if ev.GetEventId() != 0 || ev.GetRecordId() != 0 || ev.GetId() != "" || ev.GetOrigin() != "" {
		t.Errorf("Event() set ids: %v", ev)
	}
	ev.Fields["client"] = "changed"
	if r.Fields["client"] != "pbeesly/DMEVALS.LOCAL" {
		t.Error("Event() shares the record's Fields map")
	}
	if _, ok := r.Fields["uid"]; ok {
		t.Error("Event() wrote uid into the record's Fields")
	}
	if got := LogOf(ev); got != "kerberos" {
		t.Errorf("LogOf = %q", got)
	}
}

func TestZeekLogOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev   *adjoinv1.Event
		want string
	}{
		{ev: &adjoinv1.Event{Format: "zeek", Channel: "zeek/dce_rpc"}, want: "dce_rpc"},
		{ev: &adjoinv1.Event{Format: "winevent-nxlog", Channel: "zeek/dce_rpc"}},
		{ev: &adjoinv1.Event{Format: "zeek", Channel: "Security"}},
		{ev: nil},
	}
	for _, tt := range tests {
		if got := LogOf(tt.ev); got != tt.want {
			t.Errorf("LogOf(%v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestZeekSplitPrincipal(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, name, realm string }{
		{in: "pbeesly/DMEVALS.LOCAL", name: "pbeesly", realm: "dmevals.local"},
		{in: "pbeesly/dmevals", name: "pbeesly", realm: "dmevals"},
		{in: "UTICA$/DMEVALS.LOCAL", name: "utica$", realm: "dmevals.local"},
		{in: "stevie.marie/PANDALAB.COM", name: "stevie.marie", realm: "pandalab.com"},
		{in: "utica$@DMEVALS.LOCAL", name: "utica$", realm: "dmevals.local"},
		{in: " mscott ", name: "mscott"},
		{in: ""},
	}
	for _, tt := range tests {
		if name, realm := SplitPrincipal(tt.in); name != tt.name || realm != tt.realm {
			t.Errorf("SplitPrincipal(%q) = %q, %q; want %q, %q", tt.in, name, realm, tt.name, tt.realm)
		}
	}
}

// TestLogOfNetworkEvents: the DC traffic sensor's events name their log like Zeek's, and
// other formats with the same channel are not taken for them.
func TestLogOfNetworkEvents(t *testing.T) {
	for _, tt := range []struct {
		format, channel, want string
	}{
		{"zeek", "zeek/kerberos", "kerberos"},
		{"wire", "network/dce_rpc", "dce_rpc"},
		{"wire", "zeek/dce_rpc", ""},
		{"zeek", "network/dce_rpc", ""},
		{"nxlog", "network/dce_rpc", ""},
	} {
		if got := LogOf(&adjoinv1.Event{Format: tt.format, Channel: tt.channel}); got != tt.want {
			t.Errorf("LogOf(%s, %s) = %q, want %q", tt.format, tt.channel, got, tt.want)
		}
	}
}
