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
		return nil, fmt.Errorf("not a packet capture: %d bytes, shorter than a pcap or pcapng header", len(magic))
	}
	if !IsCaptureMagic(magic) {
		return nil, fmt.Errorf("not a pcap or pcapng capture (first bytes %x)", magic)
	}
	var src packetSource
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		src, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(br)
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("capture header cut short (first bytes %x): %w", magic, err)
	case err != nil:
		return nil, fmt.Errorf("not a pcap or pcapng capture (first bytes %x): %w", magic, err)
	}
	return src, nil
}

// IsCaptureMagic reports whether a file starting with magic is a pcapng capture or a pcap one
// (microsecond or nanosecond timestamps, either byte order).
func IsCaptureMagic(magic []byte) bool {
	switch string(magic) {
	case "\x0a\x0d\x0d\x0a", "\xd4\xc3\xb2\xa1", "\xa1\xb2\xc3\xd4", "\x4d\x3c\xb2\xa1", "\xa1\xb2\x3c\x4d":
		return true
	}
	return false
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
