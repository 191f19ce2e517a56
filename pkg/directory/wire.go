package directory

import (
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of adjoin.v1.Entity and google.protobuf.Timestamp.
const (
	fieldKey         = 1
	fieldKind        = 2
	fieldSID         = 3
	fieldGUID        = 4
	fieldSAM         = 5
	fieldNBDomain    = 6
	fieldDNSDomain   = 7
	fieldUPN         = 8
	fieldHost        = 9
	fieldNBName      = 10
	fieldDisplay     = 11
	fieldDN          = 12
	fieldSPN         = 13
	fieldMemberOf    = 14
	fieldPrivileged  = 15
	fieldDisabled    = 16
	fieldUAC         = 17
	fieldWhenChanged = 18
	fieldSource      = 19

	fieldSeconds = 1
	fieldNanos   = 2
)

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// putBytes decodes a directory entry's adjoin.v1.Entity bytes straight into the index,
// without building the message: the strings are views into data until they are copied into
// the arena. It refuses what proto.Unmarshal refuses, and what the index cannot hold (ErrFull).
// An entity without a key is ignored.
func (ix *Index) putBytes(data []byte) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	f := &ix.dec
	err := decodeEntity(data, f)
	if err == nil {
		if key := f.key(); key != "" {
			err = ix.put(key, f)
		}
	}
	f.reset()
	return err
}

// putDecoded stores an entity decodeEntity and key made into f under key ("" is ignored).
func (ix *Index) putDecoded(key string, f *flat) error {
	if key == "" {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.put(key, f)
}

// reset empties f for the next entity, keeping its lists' room but none of their views (which
// would keep the entry they view alive).
func (f *flat) reset() {
	clear(f.spns)
	clear(f.memberOf)
	*f = flat{spns: f.spns[:0], memberOf: f.memberOf[:0]}
}

// decodeEntity reads the wire form of adjoin.v1.Entity into f as proto.Unmarshal would: the
// last of a repeated scalar wins, repeated strings accumulate, when_changed merges, fields of a
// wire type other than their own and unknown fields are skipped, strings must be UTF-8.
func decodeEntity(b []byte, f *flat) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode adjoin.v1.Entity: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && num == fieldWhenChanged:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode adjoin.v1.Entity: %w", protowire.ParseError(n))
			}
			if err := decodeTimestamp(v, f); err != nil {
				return err
			}
			b = b[n:]
		case typ == protowire.BytesType && num >= fieldKey && num <= fieldSource && isString(num):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode adjoin.v1.Entity: %w", protowire.ParseError(n))
			}
			if !utf8.Valid(v) {
				return fmt.Errorf("decode adjoin.v1.Entity: field %d: %w", num, errInvalidUTF8)
			}
			f.setString(num, view(v))
			b = b[n:]
		case typ == protowire.VarintType && (num == fieldKind || num == fieldPrivileged || num == fieldDisabled || num == fieldUAC):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("decode adjoin.v1.Entity: %w", protowire.ParseError(n))
			}
			switch num {
			case fieldKind:
				f.kind = int32(v)
			case fieldPrivileged:
				f.privileged = v != 0
			case fieldDisabled:
				f.disabled = v != 0
			case fieldUAC:
				f.uac = uint32(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("decode adjoin.v1.Entity: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func isString(num protowire.Number) bool {
	return num != fieldKind && num != fieldPrivileged && num != fieldDisabled && num != fieldUAC && num != fieldWhenChanged
}

func (f *flat) setString(num protowire.Number, s string) {
	switch num {
	case fieldSID:
		f.sid = s
	case fieldGUID:
		f.guid = s
	case fieldSAM:
		f.sam = s
	case fieldNBDomain:
		f.nbDomain = s
	case fieldDNSDomain:
		f.dnsDomain = s
	case fieldUPN:
		f.upn = s
	case fieldHost:
		f.host = s
	case fieldNBName:
		f.nbName = s
	case fieldDisplay:
		f.display = s
	case fieldDN:
		f.dn = s
	case fieldSPN:
		f.spns = append(f.spns, s)
	case fieldMemberOf:
		f.memberOf = append(f.memberOf, s)
	case fieldSource:
		f.source = s
	}
}

func decodeTimestamp(b []byte, f *flat) error {
	f.hasWhen = true
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode google.protobuf.Timestamp: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == fieldSeconds || num == fieldNanos) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("decode google.protobuf.Timestamp: %w", protowire.ParseError(n))
			}
			if num == fieldSeconds {
				f.whenSec = int64(v)
			} else {
				f.whenNanos = int32(v)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return fmt.Errorf("decode google.protobuf.Timestamp: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// view is b as a string without a copy; the caller keeps b unchanged while it uses it.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
