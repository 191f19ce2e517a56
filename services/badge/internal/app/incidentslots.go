package app

import (
	"bytes"
	"encoding/binary"
	"iter"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// held is one incident in the index: buf holds its id, its merged_into and its entity keys,
// each after its length (uvarint; the keys after their count), then the incident encoded, from
// raw on. One allocation that holds no pointers, never changed once made.
type held struct {
	buf  []byte
	raw  int32 // where the encoded incident starts in buf
	last int64 // last activity, Unix nanoseconds
	pos  int32 // in the age heap
}

// newHeld lays out incident id (inc, encoded as raw) for the index.
func newHeld(id string, inc *adjoinv1.Incident, raw []byte) held {
	keys := inc.GetEntityKeys()
	size := 3*binary.MaxVarintLen32 + len(id) + len(inc.GetMergedInto()) + len(raw)
	for _, k := range keys {
		size += binary.MaxVarintLen32 + len(k)
	}
	buf := make([]byte, 0, size)
	buf = appendString(buf, id)
	buf = appendString(buf, inc.GetMergedInto())
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		buf = appendString(buf, k)
	}
	h := held{raw: int32(len(buf)), last: inc.GetLastActivity().AsTime().UnixNano()}
	h.buf = append(buf, raw...)
	return h
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// field returns the length-prefixed bytes at off in buf and the offset after them; buf is laid
// out by newHeld, so the lengths hold.
func field(buf []byte, off int) ([]byte, int) {
	n, w := binary.Uvarint(buf[off:])
	off += w
	return buf[off : off+int(n)], off + int(n)
}

// id is the incident's bucket key.
func (h *held) id() []byte {
	id, _ := field(h.buf, 0)
	return id
}

// merged is its merged_into, empty for none.
func (h *held) merged() []byte {
	_, off := field(h.buf, 0)
	m, _ := field(h.buf, off)
	return m
}

// keys are its entity keys.
func (h *held) keys() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if h.buf == nil {
			return
		}
		_, off := field(h.buf, 0)
		_, off = field(h.buf, off)
		n, w := binary.Uvarint(h.buf[off:])
		off += w
		for range n {
			var k []byte
			k, off = field(h.buf, off)
			if !yield(k) {
				return
			}
		}
	}
}

// decode returns the incident h holds, its id set to the bucket key when it has none.
func (h *held) decode() *adjoinv1.Incident {
	inc := &adjoinv1.Incident{}
	_ = proto.Unmarshal(h.buf[h.raw:], inc) // encoded by Set or checked by Put's caller
	if inc.GetId() == "" {
		inc.Id = string(h.id())
	}
	return inc
}

// ages is the index's age heap (heap.Interface over x.age): slots by last activity, oldest on
// top, then by id.
type ages struct{ x *Incidents }

func (a ages) Len() int { return len(a.x.age) }
func (a ages) Less(i, j int) bool {
	hi, hj := &a.x.slots[a.x.age[i]], &a.x.slots[a.x.age[j]]
	if hi.last != hj.last {
		return hi.last < hj.last
	}
	return bytes.Compare(hi.id(), hj.id()) < 0
}

func (a ages) Swap(i, j int) {
	age := a.x.age
	age[i], age[j] = age[j], age[i]
	a.x.slots[age[i]].pos, a.x.slots[age[j]].pos = int32(i), int32(j)
}

func (a ages) Push(v any) {
	slot := v.(int32)
	a.x.slots[slot].pos = int32(len(a.x.age))
	a.x.age = append(a.x.age, slot)
}

func (a ages) Pop() any {
	age := a.x.age
	slot := age[len(age)-1]
	a.x.age = age[:len(age)-1]
	return slot
}
