package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetSource is a pcap or pcapng reader.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// openCapture reads a pcap or pcapng stream, told by its magic number.
func openCapture(r io.Reader) (packetSource, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		return pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	}
	return pcapgo.NewReader(br)
}

// ReadPcap decodes every packet of a pcap or pcapng file and returns the sensor's counters.
// A file cut off in the middle of a packet (as some published captures are) ends the read
// without an error.
func ReadPcap(r io.Reader, cfg Config, emit func(Record)) (Stats, error) {
	src, err := openCapture(r)
	if err != nil {
		return Stats{}, err
	}
	s := NewSensor(cfg, src.LinkType(), emit)
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			s.Close()
			return s.Stats(), fmt.Errorf("pcap: %w", err)
		}
		s.Packet(data, ci)
	}
	s.Close()
	return s.Stats(), nil
}
