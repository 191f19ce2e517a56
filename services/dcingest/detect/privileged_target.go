package detect

import (
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// PrivilegedAccounts says which accounts the directory flags as privileged (adminCount, or
// membership, direct or nested, of Domain Admins and the other protected groups).
type PrivilegedAccounts interface {
	// PrivilegedName returns a display name of the account ref names when it is privileged.
	PrivilegedName(ref *adjoinv1.EntityRef) (name string, privileged bool)
}

// PrivilegedTargets wraps a detector: an alert aimed at a privileged account (a user entity
// with the TARGET role that the directory flags as privileged) is raised one severity step,
// to HIGH at most, and its description names the account. A spray that reaches a domain
// admin, or a brute force of one, is worth more than the same against a clerk. The alert id
// does not change, so a replay after the directory changed updates, never duplicates.
type PrivilegedTargets struct {
	detection.Detector
	Accounts PrivilegedAccounts
}

// Detect runs the wrapped detector and raises its alerts on privileged targets.
func (p PrivilegedTargets) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	alerts := p.Detector.Detect(ev)
	for _, a := range alerts {
		var names []string
		for _, ref := range a.GetEntities() {
			if ref.GetKind() != adjoinv1.EntityKind_ENTITY_KIND_USER || ref.GetRole() != adjoinv1.EntityRole_ENTITY_ROLE_TARGET {
				continue
			}
			if name, ok := p.Accounts.PrivilegedName(ref); ok && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			continue
		}
		if a.Severity < adjoinv1.Severity_SEVERITY_HIGH {
			a.Severity++
		}
		a.Description = strings.TrimSpace(a.GetDescription() + " Privileged account(s) targeted: " + strings.Join(names, ", ") + ".")
	}
	return alerts
}

// WithPrivilegedTargets wraps every detector in ds with PrivilegedTargets.
func WithPrivilegedTargets(accounts PrivilegedAccounts, ds ...detection.Detector) []detection.Detector {
	out := make([]detection.Detector, len(ds))
	for i, d := range ds {
		out[i] = PrivilegedTargets{Detector: d, Accounts: accounts}
	}
	return out
}
