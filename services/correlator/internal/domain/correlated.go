package domain

import (
	"slices"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// AlertOf is what a correlated copy of an alert tells the incident window: the alert version,
// every entity its references resolved to (each copy carries them all), and which of those
// link it to other alerts: every entity it is not only the target of, as the correlator
// decides when it counts it. The copy's own entity is counted too; with no resolution naming
// it (a copy from before resolutions were carried), it links. It returns false for a copy on
// no entity (excluded, unresolved) or of no alert.
func AlertOf(c *adjoinv1.CorrelatedAlert) (Alert, bool) {
	a := c.GetAlert()
	if a.GetId() == "" || c.GetEntityKey() == "" {
		return Alert{}, false
	}
	out := Alert{ID: a.GetId(), Version: a.GetVersion(), Side: a.GetSide(), Severity: a.GetSeverity(), Status: a.GetStatus()}
	if t := a.GetFirstActivity(); t != nil {
		out.First = t.AsTime()
	}
	if t := a.GetLastActivity(); t != nil {
		out.Last = t.AsTime()
	}
	refs := a.GetEntities()
	named := false
	for _, r := range c.GetResolutions() {
		k := r.GetEntityKey()
		if k == "" {
			continue
		}
		named = named || k == c.GetEntityKey()
		out.Keys = append(out.Keys, k)
		if i := int(r.GetRefIndex()); i < 0 || i >= len(refs) || refs[i].GetRole() != adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
			out.Links = append(out.Links, k)
		}
	}
	out.Keys = append(out.Keys, c.GetEntityKey())
	if !named {
		out.Links = append(out.Links, c.GetEntityKey())
	}
	slices.Sort(out.Keys)
	slices.Sort(out.Links)
	out.Keys, out.Links = slices.Compact(out.Keys), slices.Compact(out.Links)
	return out, true
}
