package counts

import (
	"slices"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// RecentMax is the most recent alerts a format-2 record lists; MaxRecordBytes bounds its encoding.
const RecentMax = 50

// MaxRecordBytes bounds the encoding of a format-2 record, updated_time included.
const MaxRecordBytes = 4096

// Format is the EntityCounts.format of records the ledger writes.
const Format = 2

// MaxEntityKeys bounds the entity keys a recent alert lists (format 1 listed them all).
const MaxEntityKeys = 8

// DefaultMaxHeld is the most alerts a ledger holds (in full or as tombstones) unless told
// otherwise: with the sizes of the package doc, at most some 140 MB of alert state per
// partition (all held in full), typically far less (most are tombstones).
const DefaultMaxHeld = 1_000_000

// Ledger is one partition's counting state: for every entity it counts, the per-alert state needed
// to apply a later version exactly once (alert id hashed -> version, side, severity, status,
// first and last activity), per-side counters, and the bounded lists of recent alerts. Not safe
// for concurrent use (one owner).
//
// A fold costs the same whatever the entity's history: two map lookups, the counters moved, a
// recent list of at most RecentMax entries updated. An update that takes an entity's first or
// last activity away from the only alert that held it (an alert whose first activity moves
// later, or whose last activity moves earlier) leaves the side to recompute when the entity's
// record is next built (Record): a scan of at most smallSet alerts, or for an entity holding
// more, the top of a heap of their activity (O(log n), see activity), never a scan of them all.
type Ledger struct {
	entities map[string]*entity
	// seq numbers the folds that changed an alert; it orders the recent lists.
	seq uint64
	// held is how many alerts the entities hold, in full or as tombstones; MaxHeld bounds it.
	held int
	// MaxHeld is the cap on held alerts (0: DefaultMaxHeld). At the cap a new alert is counted
	// but not held (see Fold); Unheld says how many were.
	MaxHeld int
	unheld  uint64
	// loose says a recent entry may show an alert not held (counted past the cap, as a
	// snapshot read says): a new alert's id is then looked up on the recent list.
	loose bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{entities: map[string]*entity{}}
}

// Fold applies one counted alert version: c.EntityKey is the entity, c.Alert the alert; the entity
// keys the alert is counted on are the EntityKey of c.Resolutions (for the recent list). A version
// not newer than the one held changes nothing but that alert's entity keys in the recent list.
// Reports whether the entity's record changed. A key or alert id past its bound (MaxKeyBytes,
// MaxIDBytes) is not counted, and a resolution's key past MaxKeyBytes not listed: the owner refuses
// such messages before.
//
// At the cap (MaxHeld alerts held), an alert the ledger does not hold is counted, shown on the
// recent list, and not held: a later version of it applies exactly while the alert is on the
// recent list (its entry has its state), and past that is counted as another alert, its close
// not leaving the open count. Unheld counts them, so that the owner can say so.
func (l *Ledger) Fold(c *adjoinv1.CorrelatedAlert) bool {
	key, a := c.GetEntityKey(), c.GetAlert()
	if key == "" || len(key) > MaxKeyBytes || a == nil || a.GetId() == "" || len(a.GetId()) > MaxIDBytes {
		return false
	}
	touched := c.GetCorrelatedTime()
	if touched == nil {
		touched = a.GetUpdatedTime()
	}
	next := stateOf(a, touched)
	id := a.GetId()
	h := idOf(id)
	e := l.entities[key]
	if e == nil {
		e = newEntity()
		l.entities[key] = e
	}
	keys := resolutionKeys(c)
	fresh := false // not on the recent list
	if cur, ok := e.alerts.get(h); ok {
		if cur.version >= next.version {
			return e.addKeys(key, id, keys)
		}
		e.replace(h, cur, next)
	} else if t, ok := e.tombs[h]; ok {
		if t.version >= next.version {
			return e.addKeys(key, id, keys)
		}
		e.revive(h, t, next)
	} else {
		// Not held but on the recent list (only past the cap): the entry's state is the
		// alert's, so the version applies against it exactly.
		fresh = true
		if l.loose || l.unheld > 0 {
			if i := e.find(id); i >= 0 {
				cur := e.recent[i].s
				if cur.version >= next.version {
					return e.addKeys(key, id, keys)
				}
				e.side(cur.side).uncount(cur.sev, cur.open())
				fresh = false
			}
		}
		if l.held >= l.maxHeld() {
			l.unheld++
			e.countOnly(next)
		} else {
			l.held++
			e.add(h, next)
		}
	}
	l.seq++
	e.touch(key, l.seq, id, next, keys, fresh)
	return true
}

func (l *Ledger) maxHeld() int {
	if l.MaxHeld > 0 {
		return l.MaxHeld
	}
	return DefaultMaxHeld
}

// Unheld returns how many alerts this ledger counted without holding them since it was made or
// read (the cap was reached): each may be counted twice by a later version.
func (l *Ledger) Unheld() uint64 { return l.unheld }

// resolutionKeys returns the distinct entity keys of c's resolutions, sorted, at most MaxEntityKeys.
func resolutionKeys(c *adjoinv1.CorrelatedAlert) []string {
	var keys []string
	for _, r := range c.GetResolutions() {
		if k := r.GetEntityKey(); k != "" && len(k) <= MaxKeyBytes && !strings.Contains(k, keySep) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 1 {
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	return keys[:min(len(keys), MaxEntityKeys)]
}

// Len returns how many entities the ledger holds and how many alerts it holds on them, in full or
// as tombstones (an alert counted on two entities is held twice).
func (l *Ledger) Len() (entities, alerts int) {
	return len(l.entities), l.held
}
