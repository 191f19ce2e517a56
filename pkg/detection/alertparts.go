package detection

import (
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Refs returns refs without the nil ones, in order: detectors list the entities an event may
// or may not name, and keep those it names.
func Refs(refs ...*adjoinv1.EntityRef) []*adjoinv1.EntityRef {
	out := make([]*adjoinv1.EntityRef, 0, len(refs))
	for _, r := range refs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// EpisodeID is a time as it goes into an alert id (an episode's start, or the time of the one
// event an alert is about): UTC, RFC 3339 with nanoseconds, so the id does not depend on the
// zone of the events.
func EpisodeID(start time.Time) string { return start.UTC().Format(time.RFC3339Nano) }
