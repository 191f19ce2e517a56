package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// endpointAlert fills in a the fields every alert of this package shares (see
// detection.NewAlert): the endpoint side, adjoin-endpointingest as source, and t as its time.
func endpointAlert(a *adjoinv1.Alert, t time.Time) *adjoinv1.Alert {
	return detection.NewAlert(a, adjoinv1.Side_SIDE_ENDPOINT, "adjoin-endpointingest", t)
}
