package detection

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// NewAlert fills in a the fields every new alert has: its side and source, status new,
// version 1, and t as its first and last activity and update time. It returns a; the
// detector sets the rest (id, title, technique, entities, evidence).
func NewAlert(a *adjoinv1.Alert, side adjoinv1.Side, source string, t time.Time) *adjoinv1.Alert {
	a.Side = side
	a.Source = source
	a.Status = adjoinv1.AlertStatus_ALERT_STATUS_NEW
	a.FirstActivity, a.LastActivity, a.UpdatedTime = timestamppb.New(t), timestamppb.New(t), timestamppb.New(t)
	a.Version = 1
	return a
}
