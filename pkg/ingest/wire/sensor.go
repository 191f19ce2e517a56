package wire

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// Defaults of Config.
const (
	DefaultMaxFlows = 10_000
	DefaultFlowIdle = 2 * time.Minute
	DefaultGapWait  = 5 * time.Second
	DefaultMaxPDU   = 256 << 10
	defaultMaxPairs = 10_000
)

// Config bounds a Sensor; zero fields take the defaults above.
type Config struct {
	// MaxFlows is how many TCP connections are followed at once.
	MaxFlows int
	// FlowIdle closes a connection with no packet for this long (capture time).
	FlowIdle time.Duration
	// MaxPDU is the most bytes buffered per direction for one incomplete message.
	MaxPDU int
	// GapWait is how long (capture time) a connection waits for a segment it missed (a packet
	// the capture dropped) before it gives the segment up and decodes what came after it.
	GapWait time.Duration
}

// Stats counts what a Sensor saw. DroppedFlows and DecodeErrors are what it could not follow.
type Stats struct {
	Packets, Bytes, Flows, DroppedFlows, DecodeErrors, Records uint64
	// NotDecoded counts packets that were not Ethernet/IP TCP or UDP (or were truncated).
	NotDecoded uint64
}

// Sensor decodes packets into Records. It is not safe for concurrent use: one goroutine feeds
// it packets in capture order.
type Sensor struct {
	cfg   Config
	emit  func(Record)
	stats Stats

	parser  *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	payload gopacket.Payload
	decoded []gopacket.LayerType

	assembler *reassembly.Assembler
	flows     int // open TCP connections
	lastFlush time.Time

	shared *shared
}

// NewSensor returns a sensor that calls emit with every record, in capture order.
// linkType is the capture's link type (layers.LinkTypeEthernet for most files).
func NewSensor(cfg Config, linkType layers.LinkType, emit func(Record)) *Sensor {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.FlowIdle <= 0 {
		cfg.FlowIdle = DefaultFlowIdle
	}
	if cfg.MaxPDU <= 0 {
		cfg.MaxPDU = DefaultMaxPDU
	}
	if cfg.GapWait <= 0 {
		cfg.GapWait = DefaultGapWait
	}
	s := &Sensor{cfg: cfg, emit: emit, shared: newShared(defaultMaxPairs)}
	first := layers.LayerTypeEthernet
	switch linkType {
	case layers.LinkTypeLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeRaw, layers.LinkTypeIPv4:
		first = layers.LayerTypeIPv4
	}
	s.parser = gopacket.NewDecodingLayerParser(first, &s.eth, &s.sll, &s.ip4, &s.ip6, &s.tcp, &s.udp, &s.payload)
	s.parser.IgnoreUnsupported = true
	s.assembler = reassembly.NewAssembler(reassembly.NewStreamPool(&factory{s: s}))
	s.assembler.MaxBufferedPagesPerConnection = 64
	s.assembler.MaxBufferedPagesTotal = 4096
	return s
}

// Stats returns the counters so far.
func (s *Sensor) Stats() Stats { return s.stats }

// captureContext hands the packet's capture info to the reassembly.
type captureContext gopacket.CaptureInfo

func (c *captureContext) GetCaptureInfo() gopacket.CaptureInfo { return gopacket.CaptureInfo(*c) }

// Packet decodes one captured frame. data is not kept after the call returns (except inside
// the reassembly's bounded page buffers while a gap is open).
func (s *Sensor) Packet(data []byte, ci gopacket.CaptureInfo) {
	s.stats.Packets++
	s.stats.Bytes += uint64(len(data))
	if err := s.parser.DecodeLayers(data, &s.decoded); err != nil && len(s.decoded) == 0 {
		s.stats.NotDecoded++
		return
	}
	var netFlow gopacket.Flow
	var src, dst string
	isTCP, isUDP := false, false
	for _, t := range s.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			netFlow = s.ip4.NetworkFlow()
			src, dst = s.ip4.SrcIP.String(), s.ip4.DstIP.String()
		case layers.LayerTypeIPv6:
			netFlow = s.ip6.NetworkFlow()
			src, dst = s.ip6.SrcIP.String(), s.ip6.DstIP.String()
		case layers.LayerTypeTCP:
			isTCP = true
		case layers.LayerTypeUDP:
			isUDP = true
		}
	}
	switch {
	case isTCP && src != "":
		c := captureContext(ci)
		s.assembler.AssembleWithContext(netFlow, &s.tcp, &c)
	case isUDP && src != "":
		s.datagram(src, dst, int(s.udp.SrcPort), int(s.udp.DstPort), s.udp.Payload, ci.Timestamp)
	default:
		s.stats.NotDecoded++
	}
	s.Idle(ci.Timestamp)
}

// Idle tells the sensor that capture time has reached now, with or without a packet: a live
// capture calls it while the wire is quiet. Connections waiting longer than GapWait for a
// missed segment skip it; connections idle longer than FlowIdle are closed.
func (s *Sensor) Idle(now time.Time) {
	if s.lastFlush.IsZero() {
		s.lastFlush = now
	}
	if now.Sub(s.lastFlush) > min(s.cfg.GapWait, s.cfg.FlowIdle)/4 {
		s.lastFlush = now
		s.assembler.FlushWithOptions(reassembly.FlushOptions{T: now.Add(-s.cfg.GapWait), TC: now.Add(-s.cfg.FlowIdle)})
	}
}

// datagram decodes a UDP payload: Kerberos on port 88.
func (s *Sensor) datagram(src, dst string, sp, dp int, payload []byte, t time.Time) {
	switch {
	case dp == 88:
		s.kerberosUDP(tuple{origH: src, origP: sp, respH: dst, respP: dp}, payload, t, false)
	case sp == 88:
		s.kerberosUDP(tuple{origH: dst, origP: dp, respH: src, respP: sp}, payload, t, true)
	}
}

// Close flushes every open connection, emitting what they still held.
func (s *Sensor) Close() {
	s.assembler.FlushAll()
}

// record counts and emits one record.
func (s *Sensor) record(log string, t time.Time, tu tuple, fields map[string]string) {
	fields["id.orig_h"], fields["id.resp_h"] = tu.origH, tu.respH
	fields["id.orig_p"], fields["id.resp_p"] = itoa(tu.origP), itoa(tu.respP)
	fields["uid"] = tu.uid()
	s.stats.Records++
	s.emit(Record{Log: log, Time: t.UTC(), Fields: fields})
}
