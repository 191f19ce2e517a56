package wire

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestGapSkippedAfterGapWait feeds the S1 DCSync capture's DRSUAPI connection without one
// client segment (a request before DRSGetNCChanges, as a capture that dropped it would): the
// requests after the hole wait for it, and once GapWait has passed in capture time the sensor
// gives the segment up and decodes DRSGetNCChanges, even when no packet comes to tell it the
// time (Idle).
func TestGapSkippedAfterGapWait(t *testing.T) {
	r := openPcap(t, "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap")
	type packet struct {
		data []byte
		ci   gopacket.CaptureInfo
	}
	var pkts []packet
	drop, getNC := -1, -1
	for getNC < 0 {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("no DRSGetNCChanges request: %v", err)
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		if tcp, ok := p.TransportLayer().(*layers.TCP); ok && tcp.DstPort == 49674 && len(tcp.Payload) >= 24 && tcp.Payload[2] == 0 {
			// A DCE/RPC request: drop the last before DRSGetNCChanges (opnum 3).
			if tcp.Payload[22] == 3 && tcp.Payload[23] == 0 {
				getNC = len(pkts)
			} else {
				drop = len(pkts)
			}
		}
		pkts = append(pkts, packet{data, ci})
	}
	if drop < 0 {
		t.Fatal("no request before DRSGetNCChanges")
	}
	var recs []Record
	s := NewSensor(Config{}, layers.LinkTypeEthernet, func(rec Record) { recs = append(recs, rec) })
	for i, p := range pkts {
		if i != drop {
			s.Packet(p.data, p.ci)
		}
	}
	last := pkts[getNC].ci.Timestamp
	decoded := func() bool {
		return has(recs, "dce_rpc", map[string]string{"operation": "DRSGetNCChanges", "id.resp_p": "49674"})
	}
	if decoded() {
		t.Fatal("DRSGetNCChanges decoded across a hole in the stream")
	}
	s.Idle(last.Add(DefaultGapWait / 2))
	if decoded() {
		t.Fatalf("the hole was given up after %s, before GapWait (%s)", DefaultGapWait/2, DefaultGapWait)
	}
	s.Idle(last.Add(DefaultGapWait + time.Second))
	if !decoded() {
		t.Fatalf("DRSGetNCChanges not decoded %s after the hole (stats %+v)", DefaultGapWait+time.Second, s.Stats())
	}
}
