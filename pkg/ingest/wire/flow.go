package wire

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// tuple is a connection as Zeek names it: orig is the client, resp the server.
type tuple struct {
	origH, respH string
	origP, respP int
	start        time.Time
}

// uid is a short flow id, stable for one connection in one run, in the spirit of Zeek's uid.
func (t tuple) uid() string {
	h := fnv.New64a()
	h.Write([]byte(t.origH + "|" + t.respH + "|" + itoa(t.origP) + "|" + itoa(t.respP)))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.start.UnixNano()))
	h.Write(b[:])
	return "W" + strconv.FormatUint(h.Sum64(), 36)
}

func itoa(i int) string { return strconv.Itoa(i) }

// proto is what a connection carries.
type proto int

const (
	protoUnknown proto = iota
	protoKerberos
	protoSMB
	protoDCERPC
	protoLDAP
	protoHTTP
	protoIgnored
)

// protoOfPort names the protocol of well-known server ports; dynamic RPC ports are told by
// their first bytes (sniff).
func protoOfPort(port int) proto {
	switch port {
	case 88:
		return protoKerberos
	case 445, 139:
		return protoSMB
	case 135, 593:
		return protoDCERPC
	case 389, 3268:
		return protoLDAP
	case 80, 8080, 5985, 47001:
		return protoHTTP
	}
	return protoUnknown
}

// factory makes one stream per TCP connection, up to MaxFlows at once.
type factory struct{ s *Sensor }

// New implements reassembly.StreamFactory.
func (f *factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	s := f.s
	src, dst := netFlow.Src().String(), netFlow.Dst().String()
	sp, dp := int(tcp.SrcPort), int(tcp.DstPort)
	// The first packet's sender is the client (reassembly's TCPDirClientToServer) unless the
	// capture started mid-connection with a server's packet: then the well-known port says.
	swapped := !tcp.SYN && protoOfPort(dp) == protoUnknown && (protoOfPort(sp) != protoUnknown || (sp < dp && sp < 49152))
	tu := tuple{origH: src, origP: sp, respH: dst, respP: dp, start: ac.GetCaptureInfo().Timestamp}
	if swapped {
		tu = tuple{origH: dst, origP: dp, respH: src, respP: sp, start: tu.start}
	}
	if s.flows >= s.cfg.MaxFlows {
		s.stats.DroppedFlows++
		return &stream{s: s, proto: protoIgnored, counted: false}
	}
	s.flows++
	s.stats.Flows++
	return &stream{s: s, tu: tu, swapped: swapped, proto: protoOfPort(tu.respP), counted: true}
}

// half is one direction's bytes waiting for a whole message.
type half struct {
	buf  []byte
	skip int  // bytes of an oversized message still to skip
	dead bool // framing lost: nothing more is decoded in this direction
}

// stream is one TCP connection's decoding state.
type stream struct {
	s       *Sensor
	tu      tuple
	swapped bool
	proto   proto
	counted bool
	dirs    [2]half // 0: client to server, 1: server to client

	krb  kerberosConn
	rpc  rpcConn
	smb  *smbConn
	ldap ldapConn
}

// Accept implements reassembly.Stream: every segment is taken, and a connection whose
// handshake was not captured starts at its first segment.
func (st *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	*start = true
	return st.proto != protoIgnored
}

// ReassembledSG implements reassembly.Stream.
func (st *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, _, _, skip := sg.Info()
	n, _ := sg.Lengths()
	if n == 0 || st.proto == protoIgnored {
		return
	}
	d := 0
	if dir == reassembly.TCPDirServerToClient {
		d = 1
	}
	if st.swapped {
		d = 1 - d
	}
	h := &st.dirs[d]
	if skip != 0 { // a gap: whatever message was open is lost
		h.buf, h.skip = h.buf[:0], 0
	}
	data := sg.Fetch(n)
	t := ac.GetCaptureInfo().Timestamp
	if st.proto == protoUnknown {
		st.proto = sniff(d, data)
		if st.proto == protoIgnored {
			st.dirs = [2]half{}
			return
		}
	}
	st.feed(d, h, data, t)
}

// sniff tells a connection on an unknown port by its first bytes: DCE/RPC (version 5.0) is
// the only protocol followed on dynamic ports.
func sniff(dir int, b []byte) proto {
	if len(b) >= 3 && b[0] == 5 && b[1] == 0 {
		return protoDCERPC
	}
	if dir == 0 && len(b) >= 4 && b[0] == 0 && b[1] == 0 && len(b) >= 8 && string(b[4:8]) == "\xfeSMB" {
		return protoSMB
	}
	return protoIgnored
}

// feed appends data to direction d and decodes every whole message.
func (st *stream) feed(d int, h *half, data []byte, t time.Time) {
	if h.dead {
		return
	}
	if h.skip > 0 {
		if len(data) <= h.skip {
			h.skip -= len(data)
			return
		}
		data = data[h.skip:]
		h.skip = 0
	}
	if len(h.buf) == 0 {
		data = st.consume(d, h, data, t) // decode in place when no message is pending
		if h.dead || h.skip > 0 {
			return
		}
		h.buf = append(h.buf[:0], data...)
		return
	}
	h.buf = append(h.buf, data...)
	rest := st.consume(d, h, h.buf, t)
	if h.dead || h.skip > 0 {
		h.buf = h.buf[:0]
		return
	}
	h.buf = append(h.buf[:0], rest...)
}

// consume decodes whole messages from b and returns the unused tail.
func (st *stream) consume(d int, h *half, b []byte, t time.Time) []byte {
	for len(b) > 0 {
		size, ok := st.frame(b)
		if !ok {
			st.s.stats.DecodeErrors++
			h.dead = true
			return nil
		}
		if size == 0 { // header incomplete
			return b
		}
		if size > st.s.cfg.MaxPDU {
			// Decode the head we have once enough of it is here, then skip the rest.
			const head = 4096
			if len(b) < min(size, head) {
				return b
			}
			st.message(d, b[:min(len(b), size, head)], t, true)
			if len(b) >= size {
				b = b[size:]
				continue
			}
			h.skip = size - len(b)
			return nil
		}
		if len(b) < size {
			return b
		}
		st.message(d, b[:size], t, false)
		b = b[size:]
	}
	return b
}

// frame returns the size of the message starting b (0: not enough bytes to tell), or false
// when b cannot start a message of the connection's protocol.
func (st *stream) frame(b []byte) (int, bool) {
	switch st.proto {
	case protoKerberos, protoSMB:
		if len(b) < 4 {
			return 0, true
		}
		if st.proto == protoSMB && b[0] != 0 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(b) & 0x00ffffff)
		if st.proto == protoKerberos {
			n = int(binary.BigEndian.Uint32(b) & 0x7fffffff)
		}
		return 4 + n, true
	case protoDCERPC:
		return rpcFrame(b)
	case protoLDAP:
		return ldapFrame(b)
	case protoHTTP:
		return httpFrame(b)
	}
	return 0, false
}

// message decodes one framed message from direction d; truncated says only its head is here.
func (st *stream) message(d int, b []byte, t time.Time, truncated bool) {
	switch st.proto {
	case protoKerberos:
		if !truncated {
			st.kerberosTCP(d, b[4:], t)
		}
	case protoSMB:
		st.smbMessage(d, b[4:], t)
	case protoDCERPC:
		st.rpc.pdu(st, d, "", b, t)
	case protoLDAP:
		st.ldapMessage(d, b, t)
	case protoHTTP:
		st.httpMessage(d, b, t)
	}
}

// ReassemblyComplete implements reassembly.Stream: the connection is closed (or idle) and
// forgotten; a Kerberos request without reply is still reported.
func (st *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	if st.proto == protoKerberos {
		st.krb.flush(st)
	}
	if st.counted {
		st.s.flows--
		st.counted = false
	}
	return true
}
