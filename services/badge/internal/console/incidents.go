package console

import (
	"context"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// MaxOtherEntities is how many of an incident's other entities the entity page names; the
// rest are counted.
const MaxOtherEntities = 10

// incidentRow is one incident of the entity page.
type incidentRow struct {
	ID, Title, Severity, Status, First, Last string
	Alerts                                   int
	Truncated                                bool
	Reasons                                  []string
	Others                                   []otherEntity
	MoreOthers                               int // other entities not named
}

// otherEntity is another entity of an incident, linked to its page.
type otherEntity struct{ Name, Path string }

// newIncidentRows writes key's incidents for people; name gives the display name of another
// entity (its key when the directory does not know it).
func newIncidentRows(ctx context.Context, key string, incs []*adjoinv1.Incident, name func(context.Context, string) string) []incidentRow {
	rows := make([]incidentRow, 0, len(incs))
	for _, inc := range incs {
		r := incidentRow{ID: inc.GetId(), Title: inc.GetTitle(), Severity: severityName(inc.GetSeverity()),
			Status: statusName(inc.GetStatus()), First: when(inc.GetFirstActivity()), Last: when(inc.GetLastActivity()),
			Alerts: len(inc.GetAlertIds()), Truncated: inc.GetTruncated()}
		if r.Title == "" {
			r.Title = "Incident " + inc.GetId()
		}
		for _, why := range inc.GetReasons() {
			r.Reasons = append(r.Reasons, reasonWords(why))
		}
		for _, other := range inc.GetEntityKeys() {
			switch {
			case other == key:
			case len(r.Others) == MaxOtherEntities:
				r.MoreOthers++
			default:
				r.Others = append(r.Others, otherEntity{Name: name(ctx, other), Path: entityPath(other)})
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// reasonWords says why an alert joined an incident: the link's kind in words, then the
// correlator's own summary (who logged on where and when, and the evidence).
func reasonWords(r *adjoinv1.IncidentReason) string {
	kind := map[string]string{
		"same-user":              "on the same user",
		"same-host":              "on the same computer",
		"user-logged-on-to-host": "the user logged on to the computer",
	}[r.GetKind()]
	if kind == "" {
		kind = strings.ReplaceAll(r.GetKind(), "-", " ")
	}
	s := "Alert " + r.GetAlertId() + ": " + kind
	if r.GetSummary() != "" {
		s += " (" + r.GetSummary() + ")"
	}
	return s
}
