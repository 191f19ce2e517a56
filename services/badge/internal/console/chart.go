package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Chart geometry, in SVG user units.
const (
	chartBuckets = 12
	chartW       = 480
	chartH       = 160
	chartTop     = 10
	chartBottom  = 130 // the x axis
	chartLeft    = 40
)

// chart draws the alerts (one timeline page) over time as stacked bars per side: identity
// solid, endpoint hatched, so the sides differ by more than colour. The time range is the
// alerts' own, cut in chartBuckets equal spans; the description says the same in words.
func chart(alerts []*adjoinv1.Alert) template.HTML {
	if len(alerts) == 0 {
		return ""
	}
	first, last := alerts[0].GetFirstActivity().AsTime(), alerts[0].GetFirstActivity().AsTime()
	for _, a := range alerts {
		t := a.GetFirstActivity().AsTime()
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	span := last.Sub(first)
	width := span/chartBuckets + 1 // every alert falls in a bucket, the last one included
	var identity, endpoint [chartBuckets]int
	var ni, ne int
	for _, a := range alerts {
		i := int(a.GetFirstActivity().AsTime().Sub(first) / width)
		if a.GetSide() == adjoinv1.Side_SIDE_IDENTITY {
			identity[i]++
			ni++
		} else {
			endpoint[i]++
			ne++
		}
	}
	top := 1
	for i := range chartBuckets {
		top = max(top, identity[i]+endpoint[i])
	}
	scale := float64(chartBottom-chartTop) / float64(top)
	barW := (chartW - chartLeft - 10) / chartBuckets
	var b strings.Builder
	desc := fmt.Sprintf("%d identity and %d endpoint alerts first seen between %s and %s, in %d spans of %s.",
		ni, ne, first.UTC().Format(time.DateTime+"Z"), last.UTC().Format(time.DateTime+"Z"), chartBuckets, width.Round(time.Second))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title chart-desc" class="chart">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title id="chart-title">Alerts over time</title><desc id="chart-desc">%s</desc>`, template.HTMLEscapeString(desc))
	b.WriteString(`<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
		`<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a3b00" stroke-width="4"/></pattern></defs>`)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1a1a1a"/>`, chartLeft, chartBottom, chartW-5, chartBottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#1a1a1a">%d</text>`, chartLeft-4, chartTop+10, top)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#1a1a1a">0</text>`, chartLeft-4, chartBottom)
	for i := range chartBuckets {
		x := chartLeft + 2 + i*barW
		hi := float64(identity[i]) * scale
		he := float64(endpoint[i]) * scale
		if identity[i] > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="#1f4e8c"><title>%d identity</title></rect>`,
				x, chartBottom-hi, barW-4, hi, identity[i])
		}
		if endpoint[i] > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="url(#hatch)" stroke="#8a3b00"><title>%d endpoint</title></rect>`,
				x, chartBottom-hi-he, barW-4, he, endpoint[i])
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#1a1a1a">%s</text>`, chartLeft, chartBottom+14, first.UTC().Format(time.DateTime))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#1a1a1a">%s</text>`, chartW-5, chartBottom+14, last.UTC().Format(time.DateTime))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="#1f4e8c"/><text x="%d" y="%d" font-size="11" fill="#1a1a1a">identity (solid)</text>`,
		chartLeft, chartH-12, chartLeft+14, chartH-3)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="url(#hatch)" stroke="#8a3b00"/><text x="%d" y="%d" font-size="11" fill="#1a1a1a">endpoint (hatched)</text>`,
		chartLeft+130, chartH-12, chartLeft+144, chartH-3)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built here from numbers and escaped text
}
