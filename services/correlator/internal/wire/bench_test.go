package wire

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// benchCount is a COUNTS payload of the size `adjoin bench` sends: a DCSync alert with three
// events of evidence, ~1.3 KB.
func benchCount(b *testing.B) []byte {
	c := sample()
	c.Reason, c.IncidentId, c.OtherSideAlertIds = "", "", nil
	c.Alert.Description = "user-1 requested directory replication (DS-Replication-Get-Changes) from DC01 without being a domain controller."
	for k := range 3 {
		c.Alert.Evidence = append(c.Alert.Evidence, &adjoinv1.Evidence{Kind: "windows-event", Summary: "4662 user-1 used DS-Replication-Get-Changes",
			Host: "DC01.example.lan", Time: c.CorrelatedTime, EventId: "4662", RecordId: int64(215522 + k),
			Fields: map[string]string{"AccessMask": "0x100", "ObjectName": "%{3933c65d-ac7f-4c79-b5b7-ad0fb941333c}",
				"Properties":        "%%7688\r\n\t\t{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}\r\n\t{19195a5b-6da0-11d0-afd3-00c04fd930c9}\r\n",
				"SubjectDomainName": "EXAMPLE", "SubjectLogonId": "0x824909", "SubjectUserName": "user-1", "SubjectUserSid": "S-1-5-21-1-2-3-1104"}})
	}
	data, err := deterministic.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkFoldCopy is a partition owner's work on one COUNTS message before this package:
// decode it whole, marshal the correlated copy again.
func BenchmarkFoldCopy(b *testing.B) {
	data := benchCount(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var c adjoinv1.CorrelatedAlert
		if err := proto.Unmarshal(data, &c); err != nil {
			b.Fatal(err)
		}
		out := &adjoinv1.CorrelatedAlert{Alert: c.Alert, Resolutions: c.Resolutions, EntityKey: c.EntityKey,
			CorrelatedTime: c.CorrelatedTime, OtherSideAlertIds: []string{"e1"}}
		if _, err := deterministic.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFoldCopyWire is the same work with this package: DecodeForCount, WithOtherSide.
func BenchmarkFoldCopyWire(b *testing.B) {
	data := benchCount(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var c adjoinv1.CorrelatedAlert
		if err := DecodeForCount("", data, &c); err != nil {
			b.Fatal(err)
		}
		_ = WithOtherSide(data, []string{"e1"})
	}
}

// BenchmarkStageOne is stage 1's encoding of an alert counted on two entities, marshalled
// per entity (as before) and once (Alert, Correlated).
func BenchmarkStageOne(b *testing.B) {
	var c adjoinv1.CorrelatedAlert
	if err := proto.Unmarshal(benchCount(b), &c); err != nil {
		b.Fatal(err)
	}
	keys := []string{"user-1", "computer-1"}
	b.Run("per-entity", func(b *testing.B) {
		for b.Loop() {
			for _, k := range keys {
				c.EntityKey = k
				if _, err := deterministic.Marshal(&c); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("once", func(b *testing.B) {
		for b.Loop() {
			alert, err := Alert(c.Alert)
			if err != nil {
				b.Fatal(err)
			}
			for _, k := range keys {
				c.EntityKey = k
				if _, err := Correlated(alert, &c); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", k, err))
				}
			}
		}
	})
}
