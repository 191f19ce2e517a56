package counts

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// updatedTimeBytes is room left in MaxRecordBytes for the updated_time the caller sets: a
// timestamp of any year up to 9999 with nanoseconds encodes in at most 19 bytes.
const updatedTimeBytes = 24

// Record returns the entity's format-2 record (nil when the ledger does not know key): counters per
// side, the newest alerts (at most RecentMax, newest first, cut further so the encoding stays <=
// MaxRecordBytes), format 2. UpdatedTime is left to the caller. Deterministic for a given state.
func (l *Ledger) Record(key string) *adjoinv1.EntityCounts {
	e := l.entities[key]
	if e == nil {
		return nil
	}
	ec := &adjoinv1.EntityCounts{EntityKey: key, Format: Format}
	for i, s := range e.sides {
		if s == nil {
			continue
		}
		e.exact(uint8(i))
		if sc := s.record(adjoinv1.Side(i)); sc != nil {
			ec.Sides = append(ec.Sides, sc)
		}
	}
	size := proto.Size(ec) + updatedTimeBytes
	e.newest(func(int) bool { return true }, func(r *recentAlert) bool {
		c := r.counted(key)
		n := proto.Size(c)
		n += protowire.SizeTag(6) + protowire.SizeVarint(uint64(n))
		if len(ec.Recent) == RecentMax || size+n > MaxRecordBytes {
			return false
		}
		size += n
		ec.Recent = append(ec.Recent, c)
		return true
	})
	return ec
}

// record returns the side's counters, nil when it counts nothing.
func (s *sideCounts) record(side adjoinv1.Side) *adjoinv1.SideCounts {
	if s.total() == 0 {
		return nil
	}
	sc := &adjoinv1.SideCounts{
		Side:                side,
		Total:               s.total(),
		Open:                s.open(),
		HighestSeverity:     adjoinv1.Severity(s.highest(&s.bySev)),
		HighestOpenSeverity: adjoinv1.Severity(s.highest(&s.openBySev)),
		FirstActivity:       stamp(s.first),
		LastActivity:        stamp(s.last),
	}
	for i := numSeverities - 1; i >= 0; i-- {
		if n := s.bySev[i]; n > 0 {
			sc.BySeverity = append(sc.BySeverity, &adjoinv1.SeverityCount{Severity: adjoinv1.Severity(i), Count: n})
		}
	}
	return sc
}

// counted returns a recent alert of entity key as the record lists it.
func (r *recentAlert) counted(key string) *adjoinv1.CountedAlert {
	s := r.s
	return &adjoinv1.CountedAlert{
		AlertId:       r.id,
		Side:          adjoinv1.Side(s.side),
		Severity:      adjoinv1.Severity(s.sev),
		Status:        adjoinv1.AlertStatus(s.status),
		Version:       s.version,
		FirstActivity: stamp(s.first),
		LastActivity:  stamp(s.last),
		EntityKeys:    r.keyStrings(key),
	}
}

// OtherSide lists the ids of the other side's recent alerts on key, newest first, at most RecentMax.
func (l *Ledger) OtherSide(key string, side adjoinv1.Side) []string {
	e := l.entities[key]
	if e == nil {
		return nil
	}
	var ids []string
	e.newest(func(s int) bool { return adjoinv1.Side(s) != side }, func(r *recentAlert) bool {
		ids = append(ids, r.id)
		return len(ids) < RecentMax
	})
	return ids
}
