package wire

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
)

// SMB2 commands read here.
const (
	smbSessionSetup = 1
	smbTreeConnect  = 3
	smbCreate       = 5
	smbWrite        = 9
	smbIoctl        = 11
	smbHeaderLen    = 64
	smbFlagResponse = 1
	smbFsctlPipe    = 0x0011c017 // FSCTL_PIPE_TRANSCEIVE
	maxSMBState     = 1024
)

// SMB2Header is the part of an SMB2 header DecodeSMB2 reads.
type SMB2Header struct {
	Command   uint16
	Status    uint32
	Response  bool
	Next      uint32
	MessageID uint64
	TreeID    uint32
}

// DecodeSMB2 reads the header of the SMB2 message starting b and returns its body (the rest
// of b, from the end of the header).
func DecodeSMB2(b []byte) (SMB2Header, []byte, error) {
	if len(b) < smbHeaderLen || string(b[:4]) != "\xfeSMB" {
		return SMB2Header{}, nil, errUnknown
	}
	h := SMB2Header{
		Status:    binary.LittleEndian.Uint32(b[8:]),
		Command:   binary.LittleEndian.Uint16(b[12:]),
		Response:  binary.LittleEndian.Uint32(b[16:])&smbFlagResponse != 0,
		Next:      binary.LittleEndian.Uint32(b[20:]),
		MessageID: binary.LittleEndian.Uint64(b[24:]),
		TreeID:    binary.LittleEndian.Uint32(b[36:]),
	}
	return h, b[smbHeaderLen:], nil
}

// smbSlice returns b[off:off+n] (offsets from the header start) or nil when out of range.
func smbSlice(msg []byte, off, n int) []byte {
	if off < 0 || n < 0 || off > len(msg) || n > len(msg)-off {
		return nil
	}
	return msg[off : off+n]
}

// smbConn is one SMB2 connection's state: requests waiting for replies, tree and pipe names.
type smbConn struct {
	pending *bounded.Map[uint64, smbPending] // message id -> request
	trees   *bounded.Map[uint32, string]     // tree id -> \\host\share
	pipes   *bounded.Map[string, *smbPipe]   // file id -> pipe
	client  string                           // the account of the session setup, when seen
}

type smbPending struct {
	cmd  uint16
	name string // tree path or file name
	tree uint32
}

type smbPipe struct {
	name string
	rpc  rpcConn
}

func newSMBConn() *smbConn {
	return &smbConn{
		pending: bounded.NewMap[uint64, smbPending](maxSMBState),
		trees:   bounded.NewMap[uint32, string](maxSMBState),
		pipes:   bounded.NewMap[string, *smbPipe](maxSMBState),
	}
}

// smbMessage decodes one NetBIOS session message: one SMB2 message or a compound chain.
func (st *stream) smbMessage(d int, b []byte, t time.Time) {
	if st.smb == nil {
		st.smb = newSMBConn()
	}
	for n := 0; n < 16 && len(b) > 0; n++ {
		h, _, err := DecodeSMB2(b)
		if err != nil {
			return // SMB1, an encrypted transform, or a truncated head: nothing to read
		}
		msg := b
		if h.Next != 0 && int(h.Next) <= len(b) && h.Next >= smbHeaderLen {
			msg = b[:h.Next]
		}
		st.smbOne(d, h, msg, t)
		if h.Next == 0 || int(h.Next) > len(b) || h.Next < smbHeaderLen {
			return
		}
		b = b[h.Next:]
	}
}

// smbOne handles one SMB2 message (msg starts at its header).
func (st *stream) smbOne(d int, h SMB2Header, msg []byte, t time.Time) {
	c := st.smb
	body := msg[smbHeaderLen:]
	if d == 0 && !h.Response {
		switch h.Command {
		case smbSessionSetup:
			if len(body) >= 16 {
				blob := smbSlice(msg, int(binary.LittleEndian.Uint16(body[12:])), int(binary.LittleEndian.Uint16(body[14:])))
				if who := st.s.authClient(blob, st.tu, t); who != "" {
					c.client = who
				}
			}
		case smbTreeConnect:
			if len(body) >= 8 {
				path := smbSlice(msg, int(binary.LittleEndian.Uint16(body[4:])), int(binary.LittleEndian.Uint16(body[6:])))
				c.pending.Put(h.MessageID, smbPending{cmd: h.Command, name: utf16le(path)})
			}
		case smbCreate:
			if len(body) >= 48 {
				name := smbSlice(msg, int(binary.LittleEndian.Uint16(body[44:])), int(binary.LittleEndian.Uint16(body[46:])))
				c.pending.Put(h.MessageID, smbPending{cmd: h.Command, name: utf16le(name), tree: h.TreeID})
			}
		case smbWrite:
			if len(body) >= 32 {
				data := smbSlice(msg, int(binary.LittleEndian.Uint16(body[2:])), int(binary.LittleEndian.Uint32(body[4:])))
				st.smbPipeData(string(body[16:32]), data, t)
			}
		case smbIoctl:
			if len(body) >= 32 && binary.LittleEndian.Uint32(body[4:]) == smbFsctlPipe {
				data := smbSlice(msg, int(binary.LittleEndian.Uint32(body[24:])), int(binary.LittleEndian.Uint32(body[28:])))
				st.smbPipeData(string(body[8:24]), data, t)
			}
		}
		return
	}
	if d != 1 || !h.Response {
		return
	}
	req, ok := c.pending.Get(h.MessageID)
	if !ok || req.cmd != h.Command || h.Status == 0x00000103 { // STATUS_PENDING: the real reply follows
		return
	}
	c.pending.Put(h.MessageID, smbPending{})
	switch h.Command {
	case smbTreeConnect:
		shareType := "UNKNOWN"
		if len(body) >= 3 {
			shareType = map[byte]string{1: "DISK", 2: "PIPE", 3: "PRINT"}[body[2]]
		}
		if h.Status != 0 {
			return
		}
		c.trees.Put(h.TreeID, req.name)
		f := map[string]string{"path": req.name, "share_type": shareType}
		if c.client != "" {
			f["client"] = c.client
		}
		st.s.record("smb_mapping", t, st.tu, f)
	case smbCreate:
		if h.Status != 0 || len(body) < 80 {
			return
		}
		tree, _ := c.trees.Get(req.tree)
		f := map[string]string{"action": "SMB::FILE_OPEN", "name": req.name, "path": tree}
		if strings.HasSuffix(strings.ToUpper(tree), `\IPC$`) {
			c.pipes.Put(string(body[64:80]), &smbPipe{name: req.name, rpc: rpcConn{client: c.client}})
			f["action"] = "SMB::PIPE_OPEN"
		}
		st.s.record("smb_files", t, st.tu, f)
	}
}

// smbPipeData decodes DCE/RPC written to a named pipe.
func (st *stream) smbPipeData(fileID string, data []byte, t time.Time) {
	p, ok := st.smb.pipes.Get(fileID)
	if !ok || len(data) < rpcHeader {
		return
	}
	p.rpc.pdu(st, 0, p.name, data, t)
}
