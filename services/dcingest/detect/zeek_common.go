package detect

import (
	"net/netip"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// Helpers shared by the detectors over Zeek network logs (zeek-drsuapi-replication,
// zeek-kerberos-rc4-tgs, zeek-admin-share, zeek-samr-enumeration).
//
// Several sensors may capture the same connection, and each writes its own copy of every
// record. The copies cannot be told apart by uid alone: in the APT29 samples each sensor's
// Zeek gave the connection its own uid, a few milliseconds apart. So these detectors
//   - name alerts by addresses and episode (detection.Burst), never by uid or sensor; and
//   - answer a copy — a record with the same log, connection 4-tuple and subject
//     (operation, service, share) as one seen less than CopyTolerance away, from another
//     sensor or under another uid — with exactly what its first copy raised (zeekCopies), so
//     that detection.Merge folds the copies into one alert with one evidence per real record.
// A copy is answered with the same alert, not with nothing, so that a batch redelivered after
// a failed publish raises its alerts again.

// Defaults shared by the Zeek detectors.
const (
	zeekDefaultMaxKeys       = 10_000
	zeekDefaultCopyTolerance = 2 * time.Second
	zeekEvidenceSource       = "zeek"
)

// zeekRecord is the part of a Zeek event the detectors read.
type zeekRecord struct {
	ev           *adjoinv1.Event
	f            map[string]string
	log          string
	uid, sensor  string
	origH, respH string // normalised addresses, "" when absent
	origP, respP string
	t            time.Time
}

// zeekRecordOf returns the record when ev comes from Zeek log `log` and names its client
// address.
func zeekRecordOf(ev *adjoinv1.Event, log string) (zeekRecord, bool) {
	if zeek.LogOf(ev) != log {
		return zeekRecord{}, false
	}
	f := ev.GetFields()
	r := zeekRecord{
		ev: ev, f: f, log: log, uid: f["uid"], sensor: ev.GetHost(),
		origH: zeekAddr(f["id.orig_h"]), respH: zeekAddr(f["id.resp_h"]),
		origP: strings.TrimSpace(f["id.orig_p"]), respP: strings.TrimSpace(f["id.resp_p"]),
		t: ev.GetTime().AsTime(),
	}
	return r, r.origH != ""
}

// zeekAddr writes an address in one form (IPv4-mapped IPv6 unmapped), so that copies and
// directory lookups compare equal; text that is not an address is only trimmed.
func zeekAddr(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

// conn is the connection 4-tuple, for copy keys and descriptions.
func (r zeekRecord) conn() string {
	return r.origH + ":" + r.origP + " > " + r.respH + ":" + r.respP
}

// sourceRef and targetRef are the client and server computers, by address.
func (r zeekRecord) sourceRef() *adjoinv1.EntityRef {
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: r.origH}
}

func (r zeekRecord) targetRef() *adjoinv1.EntityRef {
	if r.respH == "" {
		return nil
	}
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET, Ip: r.respH}
}

// evidence is the evidence of this record: Host is the sensor, EventId the uid.
func (r zeekRecord) evidence(summary string, keys ...string) *adjoinv1.Evidence {
	return &adjoinv1.Evidence{
		Kind:    zeekEvidenceSource,
		Summary: summary,
		Host:    r.sensor,
		Time:    timestamppb.New(r.t),
		EventId: r.uid,
		Fields:  detection.Pick(r.f, append([]string{"uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"}, keys...)...),
	}
}

// zeekFirstCopy is what zeekCopies remembers of the first copy of a record: who wrote it,
// when, and the alert it raised (nil for none).
type zeekFirstCopy struct {
	t           time.Time
	uid, sensor string
	alert       *adjoinv1.Alert
}

// alerts is what a copy of the record raises: the first copy's alert again.
func (f zeekFirstCopy) alerts() []*adjoinv1.Alert {
	if f.alert == nil {
		return nil
	}
	return []*adjoinv1.Alert{proto.Clone(f.alert).(*adjoinv1.Alert)}
}

// zeekCopies recognises the copies of one record written by several sensors (see above). It
// remembers at most max records, forgetting the oldest; a copy that arrives after its first
// copy was forgotten is treated as a new record.
type zeekCopies struct {
	tolerance time.Duration
	max       int
	m         *bounded.Map[string, zeekFirstCopy]
}

// copyOf returns the first copy of the record r with subject `subject`, if r is a copy of a
// record seen before: same log, 4-tuple and subject within tolerance, from another sensor or
// uid, or exactly the same record again (a replay). A copy is answered from here, before any
// burst state is touched, so the answer does not depend on the order the sensors' logs come
// in.
func (c *zeekCopies) copyOf(r zeekRecord, subject string) (zeekFirstCopy, bool) {
	if c.m == nil {
		return zeekFirstCopy{}, false
	}
	prev, ok := c.m.Get(c.key(r, subject))
	if !ok {
		return zeekFirstCopy{}, false
	}
	same := prev.uid == r.uid && prev.sensor == r.sensor
	if same && prev.t.Equal(r.t) {
		return prev, true
	}
	if !same && r.t.Sub(prev.t).Abs() <= c.tolerance {
		return prev, true
	}
	return zeekFirstCopy{}, false
}

// remember records r as the first copy of its record, with the alert it raised (or nil).
func (c *zeekCopies) remember(r zeekRecord, subject string, alert *adjoinv1.Alert) {
	if c.m == nil {
		c.m = bounded.NewMap[string, zeekFirstCopy](c.max)
	}
	c.m.Put(c.key(r, subject), zeekFirstCopy{t: r.t, uid: r.uid, sensor: r.sensor, alert: alert})
}

func (c *zeekCopies) key(r zeekRecord, subject string) string {
	return r.log + "|" + r.conn() + "|" + subject
}

// zeekOr returns v, or def when v is not positive.
func zeekOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
