package productalert

import (
	"errors"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
)

// FuzzFromCEF checks the CEF door of product alerts on any line cef.Parse accepts: FromCEF and
// FromEvent (the same alert as the intake stores it) never panic, refuse with one of the
// package's errors, and otherwise give an alert that can be counted: an id, a product alert
// id, a side, a version.
func FuzzFromCEF(f *testing.F) {
	for _, s := range []string{
		`CEF:0|Microsoft|Azure ATP|2.0|DirectoryServicesReplicationSecurityAlert|Suspected DCSync attack|10|start=2020-08-05T06:10:03.000Z suser=pgustavo shost=WORKSTATION5 dhost=MORDORDC externalId=2006 cs1Label=url cs1=https://x/alerts/abc`,
		`CEF:0|Microsoft|Azure ATP|2.0|AbnormalSensitiveGroupMembershipChangeSecurityAlert|x|5|rt=1596607803000 duser=bob suid=S-1-5-21-1-2-3-1104 sntdom=CORP`,
		`CEF:0|Microsoft|Azure ATP|2.0|SensorMonitoringAlert|health|3|start=2020-08-05T06:10:03Z`,
		`CEF:0|CrowdStrike|FalconHost|1.0|DetectionSummaryEvent|x|8|rt=1 dhost=WS5 duser=CORP\\alice externalId=ldt:1`,
		`CEF:0|V|P|1|x|y|5|`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := cef.Parse(line)
		if err != nil {
			return
		}
		check := func(door string, a *adjoinv1.Alert, err error) {
			if err != nil {
				if a != nil {
					t.Fatalf("%s: error %v came with an alert", door, err)
				}
				if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: error %v is none of the package's", door, err)
				}
				return
			}
			switch {
			case a.GetId() == "", a.GetProductAlertId() == "":
				t.Fatalf("%s: alert without id: %v", door, a)
			case a.GetSide() != adjoinv1.Side_SIDE_IDENTITY && a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT:
				t.Fatalf("%s: alert side %v", door, a.GetSide())
			case a.GetVersion() < 0:
				t.Fatalf("%s: negative version %d", door, a.GetVersion())
			}
		}
		a, err := FromCEF(e)
		check("FromCEF", a, err)
		a, err = FromEvent(&adjoinv1.Event{Format: cef.Format, Fields: e.Fields()})
		check("FromEvent", a, err)
	})
}
