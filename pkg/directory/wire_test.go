package directory

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestDecodeEntityAsProtoUnmarshal feeds the wire decoder valid, repeated, reordered and
// corrupted encodings and compares it with proto.Unmarshal: the same bytes are refused, and
// what is accepted reads the same.
func TestDecodeEntityAsProtoUnmarshal(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	var inputs [][]byte
	for range 3000 {
		data, err := proto.Marshal(randomEntity(r))
		if err != nil {
			continue
		}
		inputs = append(inputs, data)
		switch r.IntN(4) {
		case 0: // a field written twice: the last scalar wins, lists grow, when_changed merges
			other, _ := proto.Marshal(randomEntity(r))
			inputs = append(inputs, append(append([]byte(nil), data...), other...))
		case 1: // corruption
			bad := append([]byte(nil), data...)
			for range 1 + r.IntN(3) {
				if len(bad) > 0 {
					bad[r.IntN(len(bad))] = byte(r.IntN(256))
				}
			}
			inputs = append(inputs, bad)
		case 2: // truncation
			inputs = append(inputs, data[:r.IntN(len(data)+1)])
		case 3: // fields of a foreign wire type, unknown fields, a group
			x := protowire.AppendTag(nil, fieldSAM, protowire.VarintType)
			x = protowire.AppendVarint(x, 7)
			x = protowire.AppendTag(x, fieldKind, protowire.BytesType)
			x = protowire.AppendString(x, "2")
			x = protowire.AppendTag(x, 99, protowire.Fixed64Type)
			x = protowire.AppendFixed64(x, 1)
			x = protowire.AppendTag(x, 98, protowire.StartGroupType)
			x = protowire.AppendTag(x, 98, protowire.EndGroupType)
			x = protowire.AppendTag(x, fieldWhenChanged, protowire.BytesType)
			x = protowire.AppendBytes(x, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1))
			inputs = append(inputs, append(x, data...))
		}
	}
	inputs = append(inputs, []byte{}, []byte{0}, []byte{0x1a, 0x02, 0xff, 0xfe}, []byte{0x92, 0x01, 0x02, 0x08})
	for _, data := range inputs {
		var want adjoinv1.Entity
		wantErr := proto.Unmarshal(data, &want)
		var f flat
		err := decodeEntity(data, &f)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeEntity(%x) error = %v, proto.Unmarshal's = %v", data, err, wantErr)
		}
		if err != nil {
			continue
		}
		dropUnknown(want.ProtoReflect())
		ix := NewIndex()
		if err := ix.putBytes(data); err != nil {
			t.Fatalf("putBytes(%x): %v", data, err)
		}
		key := f.key()
		got, ok := ix.Get(key)
		if key == "" {
			if ix.Len() != 0 {
				t.Fatalf("entity without key was indexed: %v", &want)
			}
			continue
		}
		want.Key = key
		if !ok || !proto.Equal(got, &want) {
			t.Fatalf("putBytes(%x) then Get = %v, %v\nwant %v", data, got, ok, &want)
		}
	}
}

func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			dropUnknown(v.Message())
		}
		return true
	})
}
