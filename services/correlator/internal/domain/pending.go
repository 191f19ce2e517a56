package domain

import (
	"slices"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// MaxPendingRefs bounds the entity references one pending alert keeps (a spray on thousands of
// accounts the directory does not know yet); past it, the newest version's are kept first.
const MaxPendingRefs = 2000

// MergePending is what stays pending when version next of an alert is pending and prev (nil
// when none) already was: the newer version's content with the entity references of both. A
// detector's later version names only the entities of its own emission (the next sprayed
// accounts), so replacing the pending alert would forget the earlier version's references
// before the directory could place them.
func MergePending(prev, next *adjoinv1.Alert) *adjoinv1.Alert {
	if prev == nil {
		return next
	}
	base, other := next, prev
	if prev.GetVersion() > next.GetVersion() {
		base, other = prev, next
	}
	out := proto.Clone(base).(*adjoinv1.Alert)
	for _, ref := range other.GetEntities() {
		if len(out.Entities) >= MaxPendingRefs {
			break
		}
		if !slices.ContainsFunc(out.Entities, func(r *adjoinv1.EntityRef) bool { return proto.Equal(r, ref) }) {
			out.Entities = append(out.Entities, ref)
		}
	}
	return out
}
