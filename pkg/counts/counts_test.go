package counts

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func alert(id string, side adjoinv1.Side, version int64, sev adjoinv1.Severity, status adjoinv1.AlertStatus) *adjoinv1.Alert {
	return &adjoinv1.Alert{Id: id, Side: side, Version: version, Severity: sev, Status: status}
}

const (
	identity = adjoinv1.Side_SIDE_IDENTITY
	endpoint = adjoinv1.Side_SIDE_ENDPOINT
	high     = adjoinv1.Severity_SEVERITY_HIGH
	medium   = adjoinv1.Severity_SEVERITY_MEDIUM
	newS     = adjoinv1.AlertStatus_ALERT_STATUS_NEW
	resolved = adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		alerts              []*adjoinv1.Alert
		wantChanged         []bool
		wantIdentityTotal   int64
		wantIdentityOpen    int64
		wantEndpointTotal   int64
		wantIdentityHighest adjoinv1.Severity
	}{
		{
			name:              "distinct alerts add",
			alerts:            []*adjoinv1.Alert{alert("a", identity, 1, high, newS), alert("b", identity, 1, medium, newS), alert("c", endpoint, 1, high, newS)},
			wantChanged:       []bool{true, true, true},
			wantIdentityTotal: 2, wantIdentityOpen: 2, wantEndpointTotal: 1, wantIdentityHighest: high,
		},
		{
			name:              "same version twice counts once",
			alerts:            []*adjoinv1.Alert{alert("a", identity, 1, high, newS), alert("a", identity, 1, high, newS)},
			wantChanged:       []bool{true, false},
			wantIdentityTotal: 1, wantIdentityOpen: 1, wantIdentityHighest: high,
		},
		{
			name:              "update moves between buckets without adding",
			alerts:            []*adjoinv1.Alert{alert("a", identity, 1, high, newS), alert("a", identity, 2, medium, resolved)},
			wantChanged:       []bool{true, true},
			wantIdentityTotal: 1, wantIdentityOpen: 0, wantIdentityHighest: medium,
		},
		{
			name:              "stale version after newer is ignored",
			alerts:            []*adjoinv1.Alert{alert("a", identity, 2, medium, resolved), alert("a", identity, 1, high, newS)},
			wantChanged:       []bool{true, false},
			wantIdentityTotal: 1, wantIdentityOpen: 0, wantIdentityHighest: medium,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ec := &adjoinv1.EntityCounts{}
			for i, a := range tt.alerts {
				if got := Apply(ec, a); got != tt.wantChanged[i] {
					t.Errorf("Apply #%d changed = %v, want %v", i, got, tt.wantChanged[i])
				}
			}
			id := Summarise(ec, identity)
			if id.Total != tt.wantIdentityTotal || id.Open != tt.wantIdentityOpen || id.HighestSeverity != tt.wantIdentityHighest {
				t.Errorf("identity = total %d open %d highest %v, want %d %d %v", id.Total, id.Open, id.HighestSeverity,
					tt.wantIdentityTotal, tt.wantIdentityOpen, tt.wantIdentityHighest)
			}
			if ep := Summarise(ec, endpoint); ep.Total != tt.wantEndpointTotal {
				t.Errorf("endpoint total = %d, want %d", ep.Total, tt.wantEndpointTotal)
			}
		})
	}
}
