package console

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func alertAt(side adjoinv1.Side, at string) *adjoinv1.Alert {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	return &adjoinv1.Alert{Side: side, FirstActivity: timestamppb.New(t)}
}

func TestChart(t *testing.T) {
	t.Parallel()
	id, ep := adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT
	tests := []struct {
		name       string
		alerts     []*adjoinv1.Alert
		wantDesc   string // in the description, "" for no chart at all
		wantBars   int    // rect elements that are bars (titles "N identity" / "N endpoint")
		wantLabels []string
	}{
		{name: "no alerts"},
		{
			name:     "one alert",
			alerts:   []*adjoinv1.Alert{alertAt(id, "2020-08-05T06:10:03Z")},
			wantDesc: "1 identity and 0 endpoint alerts first seen between 2020-08-05 06:10:03Z and 2020-08-05 06:10:03Z",
			wantBars: 1, wantLabels: []string{"<title>1 identity</title>"},
		},
		{
			// The Shire recordings: the DCSync in August, the pass-the-hash in September; the
			// newest last alert falls in the last span, not past it.
			name: "both sides, first and last spans",
			alerts: []*adjoinv1.Alert{alertAt(ep, "2020-09-22T02:14:29Z"), alertAt(ep, "2020-09-22T02:14:24Z"),
				alertAt(id, "2020-08-05T06:10:03Z")},
			wantDesc: "1 identity and 2 endpoint alerts",
			wantBars: 2, wantLabels: []string{"<title>1 identity</title>", "<title>2 endpoint</title>"},
		},
		{
			name:     "stacked in one span",
			alerts:   []*adjoinv1.Alert{alertAt(ep, "2020-09-22T02:14:29Z"), alertAt(id, "2020-09-22T02:14:29Z")},
			wantDesc: "1 identity and 1 endpoint alerts",
			wantBars: 2, wantLabels: []string{"<title>1 identity</title>", "<title>1 endpoint</title>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svg := string(chart(tt.alerts))
			if tt.wantDesc == "" {
				if svg != "" {
					t.Fatalf("chart of no alerts = %q, want none", svg)
				}
				return
			}
			if !strings.Contains(svg, tt.wantDesc) || !strings.Contains(svg, `role="img"`) {
				t.Errorf("chart lacks %q or its role:\n%s", tt.wantDesc, svg)
			}
			if got := strings.Count(svg, " identity</title>") + strings.Count(svg, " endpoint</title>"); got != tt.wantBars {
				t.Errorf("%d bars, want %d:\n%s", got, tt.wantBars, svg)
			}
			for _, l := range tt.wantLabels {
				if !strings.Contains(svg, l) {
					t.Errorf("chart lacks %q", l)
				}
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/console/status":              "/console/status",
		"/console/entity/S-1-5-21-1-2": "/console/entity/S-1-5-21-1-2",
		"https://elsewhere.example/":   "/console/",
		"//elsewhere.example/console/": "/console/",
		"/console/\\elsewhere":         "/console/",
		"/metrics":                     "/console/",
		"":                             "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
