package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// identityAlert fills in a the fields every alert of this package shares (see
// detection.NewAlert): the identity side, adjoin-dcingest as source, and t as its time.
func identityAlert(a *adjoinv1.Alert, t time.Time) *adjoinv1.Alert {
	return detection.NewAlert(a, adjoinv1.Side_SIDE_IDENTITY, "adjoin-dcingest", t)
}
