// Package counts holds the badge arithmetic: how an alert version changes an entity's counts,
// and how they sum up into one side's badge.
//
// Format 1 (Apply): an entity's record is the set of alerts counted on it, each with the highest
// version applied; totals are derived from the set. Applying the same alert version twice, or an
// older version after a newer one, leaves the record unchanged, so a redelivered or duplicated
// message is harmless; the revision check of the writer keeps concurrent writers from losing an
// update. The record grows with the entity's history.
//
// Format 2 (Ledger): the single writer of a partition keeps the per-alert state in memory (a
// version not newer than the one held changes nothing; a newer one moves the alert's contribution
// between counters), and an entity's record is a function of that state: counters per side and
// the newest alerts, at most MaxRecordBytes whatever the history. Summarise reads both formats.
//
// # What the ledger remembers, and for how long
//
// To stay exact, the ledger must know, for every alert that may still change, the contribution
// it made to the counters and the version it was counted at: a version seen again changes
// nothing, an update moves the alert between buckets, a late close leaves the open count. It
// keeps that in three forms, retired by Compact (run by the owner before each snapshot, with
// --state-retention R):
//
//   - in full (alertState, 32 bytes + the hashed id, 16): alerts changed within R;
//   - as a tombstone (16 bytes + 16): alerts silent for R, open or resolved; exact for every
//     later version; only first and last activity stop moving back (the floor);
//   - forgotten: resolved alerts silent for 2R, except those on their entity's recent list
//     (they stay tombstones). A later version of a forgotten alert is counted as a new alert.
//     Open alerts are never forgotten.
//
// An entity stays while it is known: its counters and recent list are its record. The recent
// list (at most RecentMax entries per side) carries each entry's state, so retiring an alert
// never changes a record. first and last activity of an entity with many alerts come from a
// heap when an update takes them away (see activity), never from a scan of its alerts.
//
// Hard cap: Ledger.MaxHeld bounds the alerts held in full or as tombstones (DefaultMaxHeld per
// partition). At the cap a new alert is still counted and listed but not held: a later version
// of it is exact while it is on the recent list, and past that counts as another alert. Unheld
// says how many; the owner logs it and counts it in adjoin_counter_alerts_unheld_total. Nothing
// is dropped silently.
//
// # Memory per partition, worst case
//
//	M ≈ E·(96 + 56 + K + S·128 + R·(64 + I)) + F·(110 + 32) + T·73
//
// with E entities, K the bytes of an entity key (at most MaxKeyBytes), S the sides an entity has
// alerts on (1 to 3), R its recent entries (at most RecentMax per side), I the bytes of an alert
// id (at most MaxIDBytes), F the alerts held in full (a map entry at its fullest growth, plus 16
// bytes in the activity index of an entity with more than smallSet alerts, twice that before a
// purge) and T the tombstones (a map entry), F + T <= MaxHeld. 96 is an entity, 56 its entry
// in the ledger's map, 128 a side's counters, 64 a recent entry. Measured
// (BenchmarkLedgerEntity): 371 bytes per entity of one alert with a SID key; 64 bytes per alert
// on an entity of 100,000 (TestLedgerBoundOneEntity).
package counts

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Apply records alert a, counted on the entities keys, on ec and reports whether ec changed. A
// version equal to or older than the one already counted changes nothing but the list of
// entities, which only grows (a later resolution may place the alert on one more entity).
func Apply(ec *adjoinv1.EntityCounts, a *adjoinv1.Alert, keys ...string) bool {
	version := max(a.GetVersion(), 1)
	next := &adjoinv1.CountedAlert{
		AlertId:       a.GetId(),
		Side:          a.GetSide(),
		Severity:      a.GetSeverity(),
		Status:        a.GetStatus(),
		Version:       version,
		FirstActivity: a.GetFirstActivity(),
		LastActivity:  a.GetLastActivity(),
		EntityKeys:    union(nil, keys),
	}
	i, found := slices.BinarySearchFunc(ec.Alerts, a.GetId(), func(c *adjoinv1.CountedAlert, id string) int {
		return strings.Compare(c.GetAlertId(), id)
	})
	if found {
		cur := ec.Alerts[i]
		if cur.GetVersion() >= version {
			merged := union(cur.GetEntityKeys(), keys)
			if len(merged) == len(cur.GetEntityKeys()) {
				return false
			}
			cur.EntityKeys = merged
			return true
		}
		next.EntityKeys = union(cur.GetEntityKeys(), keys)
		ec.Alerts[i] = next
		return true
	}
	ec.Alerts = slices.Insert(ec.Alerts, i, next)
	return true
}

// union returns the sorted distinct keys of a and b.
func union(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// IsOpen reports whether a status counts as open (new or in progress). An alert without a
// status is open: a detection nobody has triaged yet.
func IsOpen(s adjoinv1.AlertStatus) bool { return s != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED }

// Summarise returns one side's counts over ec. Known, greyed reason and link are the caller's to
// fill in: they depend on what the side knows, not on alerts.
// A format-2 record (counters per side) reads from its sides; a format-1 record (every alert)
// is summed up.
func Summarise(ec *adjoinv1.EntityCounts, side adjoinv1.Side) *adjoinv1.SideBadge {
	b := &adjoinv1.SideBadge{Side: side}
	if ec.GetFormat() >= Format {
		for _, sc := range ec.GetSides() {
			if sc.GetSide() != side {
				continue
			}
			b.Total, b.Open, b.HighestSeverity = sc.GetTotal(), sc.GetOpen(), sc.GetHighestSeverity()
			for _, n := range sc.GetBySeverity() {
				b.BySeverity = append(b.BySeverity, &adjoinv1.SeverityCount{Severity: n.GetSeverity(), Count: n.GetCount()})
			}
			if t := sc.GetFirstActivity(); t != nil {
				b.FirstAlertTime = timestamppb.New(t.AsTime())
			}
			if t := sc.GetLastActivity(); t != nil {
				b.LastAlertTime = timestamppb.New(t.AsTime())
			}
			return b
		}
		return b
	}
	bySeverity := map[adjoinv1.Severity]int64{}
	for _, c := range ec.GetAlerts() {
		if c.GetSide() != side {
			continue
		}
		b.Total++
		if IsOpen(c.GetStatus()) {
			b.Open++
		}
		bySeverity[c.GetSeverity()]++
		if c.GetSeverity() > b.HighestSeverity {
			b.HighestSeverity = c.GetSeverity()
		}
		if t := c.GetFirstActivity(); t != nil && (b.FirstAlertTime == nil || t.AsTime().Before(b.FirstAlertTime.AsTime())) {
			b.FirstAlertTime = timestamppb.New(t.AsTime())
		}
		if t := c.GetLastActivity(); t != nil && (b.LastAlertTime == nil || t.AsTime().After(b.LastAlertTime.AsTime())) {
			b.LastAlertTime = timestamppb.New(t.AsTime())
		}
	}
	for s := adjoinv1.Severity_SEVERITY_HIGH; s >= adjoinv1.Severity_SEVERITY_UNSPECIFIED; s-- {
		if n := bySeverity[s]; n > 0 {
			b.BySeverity = append(b.BySeverity, &adjoinv1.SeverityCount{Severity: s, Count: n})
		}
	}
	return b
}
