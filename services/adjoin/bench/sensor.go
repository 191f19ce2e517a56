package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/adjoin/adjoin/pkg/ingest/wire"
)

// SensorResult is the DC traffic sensor's decoding rate on one core over the largest capture
// of shared/data, beside gopacket alone reading and decoding the same file.
type SensorResult struct {
	File    string `json:"file"`
	Packets int    `json:"packets"`
	Records int    `json:"records"`
	// PacketsPerSec is wire.ReadPcap (pcapgo, layer decoding, TCP reassembly and the protocol
	// decoders, records built and dropped) from memory, one goroutine.
	PacketsPerSec float64 `json:"packets_per_s"`
	// GopacketPerSec is the baseline: pcapgo's reader and gopacket.NewPacketSource decoding
	// every packet with its default options, from memory, one goroutine.
	GopacketPerSec float64 `json:"gopacket_packets_per_s"`
	// Ratio is PacketsPerSec / GopacketPerSec (the issue asks for at least 0.5).
	Ratio         float64 `json:"ratio"`
	OtherCPUShare float64 `json:"other_cpu_share"`
}

// captures are the packet captures of shared/data; the largest is measured.
var captures = []string{"otrf/pcap/*.cap", "otrf/background/*.cap"}

// largestCapture returns the path of the largest capture.
func largestCapture(dataDir string) (string, error) {
	best, size := "", int64(-1)
	for _, pattern := range captures {
		m, err := filepath.Glob(filepath.Join(dataDir, pattern))
		if err != nil {
			return "", err
		}
		for _, f := range m {
			if st, err := os.Stat(f); err == nil && st.Size() > size {
				best, size = f, st.Size()
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("no capture %v under %s", captures, dataDir)
	}
	return best, nil
}

// measureSensor decodes the largest capture with the sensor and with gopacket alone, each for
// at least d (whole passes).
func measureSensor(dataDir string, d time.Duration) (*SensorResult, error) {
	path, err := largestCapture(dataDir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res := &SensorResult{File: filepath.Base(path)}
	baseCPU := startCPUWindow()
	res.GopacketPerSec, err = passes(d, func() (int, error) {
		r, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		src := gopacket.NewPacketSource(r, r.LinkType())
		n := 0
		for {
			p, err := src.NextPacket()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return n, nil
			}
			if err != nil {
				return 0, err
			}
			_ = p.Layers() // decoded eagerly by NewPacket's default options
			n++
		}
	})
	if err != nil {
		return nil, err
	}
	baseOther := baseCPU.otherShare()
	cpu := startCPUWindow()
	res.PacketsPerSec, err = passes(d, func() (int, error) {
		records := 0
		st, err := wire.ReadPcap(bytes.NewReader(b), wire.Config{}, func(wire.Record) { records++ })
		res.Packets, res.Records = int(st.Packets), records
		return int(st.Packets), err
	})
	if err != nil {
		return nil, err
	}
	res.Ratio = res.PacketsPerSec / res.GopacketPerSec
	res.OtherCPUShare = max(cpu.otherShare(), baseOther)
	return res, nil
}
