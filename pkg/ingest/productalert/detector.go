package productalert

import (
	"errors"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
)

// Detector passes product alerts carried as events through: CEF lines received by syslog or
// HTTP are stored on the event stream like any signal, and the detection runner turns those
// of a known product into alerts, acknowledging the events only once the alerts are stored.
type Detector struct {
	// Side, when set, keeps only alerts of that side (the DC ingestor keeps identity alerts).
	Side adjoinv1.Side
	// OnRefused, when set, hears of a known product's alert that could not be converted
	// (ErrInvalid), for logs and metrics; the event itself stays on the stream.
	OnRefused func(ev *adjoinv1.Event, err error)
}

// Name is the detector's name in logs and metrics.
func (d *Detector) Name() string { return "product-alert" }

// Detect returns the product alert ev carries, if any.
func (d *Detector) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetFormat() != cef.Format {
		return nil
	}
	a, err := FromEvent(ev)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) && d.OnRefused != nil {
			d.OnRefused(ev, err)
		}
		return nil
	}
	if d.Side != adjoinv1.Side_SIDE_UNSPECIFIED && a.GetSide() != d.Side {
		return nil
	}
	return []*adjoinv1.Alert{a}
}
