package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Ports are the server ports the live capture keeps (with the RPC dynamic range, DynamicLow
// and up): Kerberos, the RPC endpoint mapper, LDAP, SMB, LDAPS and the global catalog.
var Ports = []uint16{88, 135, 389, 445, 636, 3268}

// DynamicLow is the first port of Windows' RPC dynamic range (49152-65535), where DRSUAPI,
// Netlogon and the other RPC services listen.
const DynamicLow = 49152

// packetOutgoing is the kernel's packet type of a frame the host sends (PACKET_OUTGOING).
const packetOutgoing = 4

// Filter returns the classic BPF program of the live capture: IPv4 or IPv6 TCP and UDP whose
// source or destination port is one of Ports or in the dynamic range; IPv4 fragments after the
// first are kept (their ports are not in them). On loopback, where the kernel hands every
// frame to packet sockets twice (as sent and as received), the sent copy is dropped.
func Filter(loopback bool) ([]bpf.RawInstruction, error) {
	var p prog
	if loopback {
		p.add(bpf.LoadExtension{Num: bpf.ExtType})
		p.jump(bpf.JumpEqual, packetOutgoing, "drop", "")
	}
	p.add(bpf.LoadAbsolute{Off: 12, Size: 2}) // EtherType
	p.jump(bpf.JumpEqual, 0x0800, "", "ip6")
	// IPv4: TCP or UDP, later fragments kept, ports after the header (IHL words).
	p.add(bpf.LoadAbsolute{Off: 23, Size: 1})
	p.jump(bpf.JumpEqual, 6, "ip4l4", "")
	p.jump(bpf.JumpEqual, 17, "ip4l4", "drop")
	p.label("ip4l4")
	p.add(bpf.LoadAbsolute{Off: 20, Size: 2})
	p.jump(bpf.JumpBitsSet, 0x1fff, "keep", "")
	p.add(bpf.LoadMemShift{Off: 14})
	p.add(bpf.LoadIndirect{Off: 14, Size: 2})
	p.ports("keep", "ip4dst")
	p.label("ip4dst")
	p.add(bpf.LoadIndirect{Off: 16, Size: 2})
	p.ports("keep", "drop")
	// IPv6 without extension headers: next header at 20, ports at 54 and 56.
	p.label("ip6")
	p.jump(bpf.JumpEqual, 0x86dd, "", "drop")
	p.add(bpf.LoadAbsolute{Off: 20, Size: 1})
	p.jump(bpf.JumpEqual, 6, "ip6l4", "")
	p.jump(bpf.JumpEqual, 17, "ip6l4", "drop")
	p.label("ip6l4")
	p.add(bpf.LoadAbsolute{Off: 54, Size: 2})
	p.ports("keep", "ip6dst")
	p.label("ip6dst")
	p.add(bpf.LoadAbsolute{Off: 56, Size: 2})
	p.ports("keep", "drop")
	p.label("keep")
	p.add(bpf.RetConstant{Val: 262144})
	p.label("drop")
	p.add(bpf.RetConstant{Val: 0})
	ins, err := p.resolve()
	if err != nil {
		return nil, err
	}
	return bpf.Assemble(ins)
}

// prog builds a BPF program with jumps to labels, resolved at the end.
type prog struct {
	ins    []bpf.Instruction
	labels map[string]int
	jumps  []pendingJump
}

type pendingJump struct {
	at          int
	true, false string // "" is the next instruction
}

func (p *prog) add(i bpf.Instruction) { p.ins = append(p.ins, i) }

func (p *prog) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.ins)
}

func (p *prog) jump(cond bpf.JumpTest, val uint32, onTrue, onFalse string) {
	p.jumps = append(p.jumps, pendingJump{at: len(p.ins), true: onTrue, false: onFalse})
	p.add(bpf.JumpIf{Cond: cond, Val: val})
}

// ports jumps to match when the loaded port is one of Ports or dynamic, else to other.
func (p *prog) ports(match, other string) {
	for _, port := range Ports {
		p.jump(bpf.JumpEqual, uint32(port), match, "")
	}
	p.jump(bpf.JumpGreaterOrEqual, DynamicLow, match, other)
}

func (p *prog) resolve() ([]bpf.Instruction, error) {
	skip := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := p.labels[label]
		if !ok || to <= from || to-from-1 > 255 {
			return 0, fmt.Errorf("bpf: bad jump to %q", label)
		}
		return uint8(to - from - 1), nil
	}
	for _, j := range p.jumps {
		ji := p.ins[j.at].(bpf.JumpIf)
		var err1, err2 error
		ji.SkipTrue, err1 = skip(j.at, j.true)
		ji.SkipFalse, err2 = skip(j.at, j.false)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		p.ins[j.at] = ji
	}
	return p.ins, nil
}

// DefaultRing is the size of a live capture's ring when OpenLive is given none. Packets wait
// there while the sensor decodes or is not scheduled; what does not fit is dropped by the
// kernel and counted. A loopback or offloading interface hands over frames of up to 64 KiB,
// so a replication burst fills a socket's default 208 KiB buffer in a few frames.
const DefaultRing = 64 << 20

// ringBlock is one block of the ring: a frame never spans blocks, and this holds the largest.
const ringBlock = 1 << 20

// pollWait is how long Run waits for a packet before it looks at its context and tells the
// sensor that time went on (Sensor.Idle).
const pollWait = 250 * time.Millisecond

// Live is a live capture on one network interface: an AF_PACKET socket with a TPACKET_V3 ring
// shared with the kernel (no cgo, no libpcap; it needs CAP_NET_RAW) and the Filter program
// attached. Packets arrive from OpenLive on; Run decodes them.
type Live struct {
	iface string
	h     *afpacket.TPacket
}

// OpenLive opens the capture socket of iface with a ring of ring bytes (DefaultRing when 0 or
// less; at least two blocks of 1 MiB) and attaches the filter.
func OpenLive(iface string, ring int) (*Live, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	if ring <= 0 {
		ring = DefaultRing
	}
	h, err := afpacket.NewTPacket(afpacket.OptInterface(iface), afpacket.TPacketVersion3,
		afpacket.OptBlockSize(ringBlock), afpacket.OptNumBlocks(max(ring/ringBlock, 2)), afpacket.OptPollTimeout(pollWait))
	switch {
	case errors.Is(err, syscall.EPERM):
		return nil, fmt.Errorf("capture %s: %w (a live capture needs CAP_NET_RAW)", iface, err)
	case err != nil: // the ring: no TPACKET_V3 in this kernel, or no memory for it
		return nil, fmt.Errorf("capture %s: a ring of %d MiB: %w", iface, max(ring/ringBlock, 2), err)
	}
	filter, err := Filter(ifi.Flags&net.FlagLoopback != 0)
	if err == nil {
		err = h.SetBPF(filter)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("capture %s: filter: %w", iface, err)
	}
	return &Live{iface: iface, h: h}, nil
}

// Run decodes the interface's traffic until ctx ends, then closes the socket. stats is called
// at most every statsEvery, and once at the end, with the sensor's counters
// and the packets the kernel dropped since OpenLive because the sensor did not keep up, so
// that the caller can publish them.
func (l *Live) Run(ctx context.Context, cfg Config, emit func(Record), statsEvery time.Duration, stats func(Stats, uint64)) error {
	defer l.h.Close()
	s := NewSensor(cfg, layers.LinkTypeEthernet, emit)
	report := func() {
		var drops uint64
		if _, v3, err := l.h.SocketStats(); err == nil {
			drops = uint64(v3.Drops())
		}
		if stats != nil {
			stats(s.Stats(), drops)
		}
	}
	last := time.Now()
	for ctx.Err() == nil {
		data, ci, err := l.h.ReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			s.Idle(time.Now())
		case err != nil:
			s.Close()
			report()
			return fmt.Errorf("capture %s: %w", l.iface, err)
		default:
			s.Packet(data, ci)
		}
		if time.Since(last) >= statsEvery {
			last = time.Now()
			report()
		}
	}
	s.Close()
	report()
	return nil
}
