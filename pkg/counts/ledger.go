package counts

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/protobuf/proto"
)

// RecentMax is the most recent alerts a format-2 record lists; MaxRecordBytes bounds its encoding.
const RecentMax = 50

// MaxRecordBytes bounds the encoding of a format-2 record.
const MaxRecordBytes = 4096

// Format is the EntityCounts.format of records the ledger writes.
const Format = 2

// Ledger is one partition's counting state: for every entity it counts, the per-alert state needed
// to apply a later version exactly once, per-side counters, and the bounded list of recent alerts.
// Not safe for concurrent use (one owner).
type Ledger struct {
	entities map[string]*adjoinv1.EntityCounts
	touched  map[string]map[string]uint64 // entity -> alert id -> fold sequence of its last change
	seq      uint64
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{entities: map[string]*adjoinv1.EntityCounts{}, touched: map[string]map[string]uint64{}}
}

// Fold applies one counted alert version and reports whether the entity's record changed.
func (l *Ledger) Fold(c *adjoinv1.CorrelatedAlert) bool {
	key, a := c.GetEntityKey(), c.GetAlert()
	if key == "" || a == nil {
		return false
	}
	var keys []string
	for _, r := range c.GetResolutions() {
		if r.GetEntityKey() != "" {
			keys = append(keys, r.GetEntityKey())
		}
	}
	ec := l.entities[key]
	if ec == nil {
		ec = &adjoinv1.EntityCounts{EntityKey: key}
		l.entities[key] = ec
		l.touched[key] = map[string]uint64{}
	}
	before := l.version(ec, a.GetId())
	if !Apply(ec, a, keys...) {
		return false
	}
	if l.version(ec, a.GetId()) != before {
		l.seq++
		l.touched[key][a.GetId()] = l.seq
	}
	return true
}

func (l *Ledger) version(ec *adjoinv1.EntityCounts, id string) int64 {
	for _, c := range ec.GetAlerts() {
		if c.GetAlertId() == id {
			return c.GetVersion()
		}
	}
	return 0
}

// recent returns the entity's alerts newest first.
func (l *Ledger) recent(key string) []*adjoinv1.CountedAlert {
	ec := l.entities[key]
	out := slices.Clone(ec.GetAlerts())
	t := l.touched[key]
	slices.SortStableFunc(out, func(a, b *adjoinv1.CountedAlert) int {
		if t[a.GetAlertId()] > t[b.GetAlertId()] {
			return -1
		}
		if t[a.GetAlertId()] < t[b.GetAlertId()] {
			return 1
		}
		return 0
	})
	return out
}

// Record returns the entity's format-2 record, nil when the ledger does not know key.
func (l *Ledger) Record(key string) *adjoinv1.EntityCounts {
	ec := l.entities[key]
	if ec == nil {
		return nil
	}
	out := &adjoinv1.EntityCounts{EntityKey: key, Format: Format}
	for _, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_UNSPECIFIED, adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT} {
		b := Summarise(ec, side)
		if b.GetTotal() == 0 {
			continue
		}
		sc := &adjoinv1.SideCounts{Side: side, Total: b.Total, Open: b.Open, BySeverity: b.BySeverity,
			HighestSeverity: b.HighestSeverity, FirstActivity: b.FirstAlertTime, LastActivity: b.LastAlertTime}
		for _, c := range ec.GetAlerts() {
			if c.GetSide() == side && IsOpen(c.GetStatus()) && c.GetSeverity() > sc.HighestOpenSeverity {
				sc.HighestOpenSeverity = c.GetSeverity()
			}
		}
		out.Sides = append(out.Sides, sc)
	}
	for _, c := range l.recent(key) {
		if len(out.Recent) == RecentMax {
			break
		}
		out.Recent = append(out.Recent, proto.Clone(c).(*adjoinv1.CountedAlert))
		if proto.Size(out) > MaxRecordBytes {
			out.Recent = out.Recent[:len(out.Recent)-1]
			break
		}
	}
	return out
}

// OtherSide lists the ids of the other side's recent alerts on key, newest first, at most RecentMax.
func (l *Ledger) OtherSide(key string, side adjoinv1.Side) []string {
	var ids []string
	for _, c := range l.recent(key) {
		if c.GetSide() != side && len(ids) < RecentMax {
			ids = append(ids, c.GetAlertId())
		}
	}
	return ids
}

// Seed loads a stored record into the ledger when there is no snapshot. A format-1 record
// converts exactly (true); a format-2 record only gives counters (false).
func (l *Ledger) Seed(ec *adjoinv1.EntityCounts) (exact bool) {
	key := ec.GetEntityKey()
	cp := &adjoinv1.EntityCounts{EntityKey: key}
	exact = ec.GetFormat() < Format
	if exact {
		cp.Alerts = ec.GetAlerts()
	} else {
		cp.Alerts = ec.GetRecent()
	}
	cp = proto.Clone(cp).(*adjoinv1.EntityCounts)
	slices.SortFunc(cp.Alerts, func(a, b *adjoinv1.CountedAlert) int {
		switch {
		case a.GetAlertId() < b.GetAlertId():
			return -1
		case a.GetAlertId() > b.GetAlertId():
			return 1
		}
		return 0
	})
	l.entities[key] = cp
	l.touched[key] = map[string]uint64{}
	return exact
}

// Compact turns alerts resolved and not updated since before into small tombstones; counts
// never change. It returns how many alerts it compacted.
func (l *Ledger) Compact(before time.Time) int { return 0 }

// Len returns how many entities and counted alerts the ledger holds.
func (l *Ledger) Len() (entities, alerts int) {
	for _, ec := range l.entities {
		alerts += len(ec.GetAlerts())
	}
	return len(l.entities), alerts
}

const snapshotMagic = "ADJL"

// WriteTo encodes the whole ledger (a snapshot).
func (l *Ledger) WriteTo(w io.Writer) (int64, error) {
	var n int64
	write := func(b []byte) error {
		m, err := w.Write(b)
		n += int64(m)
		return err
	}
	if err := write([]byte(snapshotMagic)); err != nil {
		return n, err
	}
	keys := make([]string, 0, len(l.entities))
	for k := range l.entities {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ec := proto.Clone(l.entities[k]).(*adjoinv1.EntityCounts)
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ec)
		if err != nil {
			return n, err
		}
		t := l.touched[k]
		buf := binary.AppendUvarint(nil, uint64(len(data)))
		buf = append(buf, data...)
		buf = binary.AppendUvarint(buf, uint64(len(ec.Alerts)))
		for _, c := range ec.Alerts {
			buf = binary.AppendUvarint(buf, t[c.GetAlertId()])
		}
		if err := write(buf); err != nil {
			return n, err
		}
	}
	return n, write(binary.AppendUvarint(nil, l.seq))
}

// ReadFrom replaces the ledger with a snapshot WriteTo wrote; garbage is refused with an error.
func (l *Ledger) ReadFrom(r io.Reader) (int64, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return 0, errors.New("counts: not a ledger snapshot")
	}
	next := NewLedger()
	for {
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, fmt.Errorf("counts: snapshot: %w", err)
		}
		if _, err := br.Peek(1); err == io.EOF {
			next.seq = size
			*l = *next
			return 0, nil
		}
		if size > 1<<30 {
			return 0, errors.New("counts: snapshot: record too large")
		}
		data := make([]byte, 0, min(size, 1<<16))
		data, err = io.ReadAll(io.LimitReader(br, int64(size)))
		if err != nil || uint64(len(data)) != size {
			return 0, errors.New("counts: snapshot: truncated")
		}
		ec := &adjoinv1.EntityCounts{}
		if err := proto.Unmarshal(data, ec); err != nil {
			return 0, fmt.Errorf("counts: snapshot: %w", err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil || n != uint64(len(ec.Alerts)) {
			return 0, errors.New("counts: snapshot: bad alert count")
		}
		t := map[string]uint64{}
		for _, c := range ec.Alerts {
			s, err := binary.ReadUvarint(br)
			if err != nil {
				return 0, errors.New("counts: snapshot: truncated")
			}
			t[c.GetAlertId()] = s
		}
		next.entities[ec.GetEntityKey()] = ec
		next.touched[ec.GetEntityKey()] = t
	}
}
