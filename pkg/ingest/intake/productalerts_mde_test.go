package intake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// A Defender for Endpoint alerts API body (hand-written, documented field names; no sample in
// shared/data) goes through when Convert is productalert.FromMDEAlert, and a resend of the
// same version is a duplicate. Without Convert the Graph shape is expected and it is refused.
func TestProductAlertsMDEConvert(t *testing.T) {
	t.Parallel()
	s := natstest.Start(t)
	body := `{"value": [{"id": "da637472900382838869_1364969609", "severity": "High", "status": "New",
  "title": "Suspicious access to LSASS service", "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
  "computerDnsName": "WORKSTATION6.theshire.local", "alertCreationTime": "2020-10-18T23:50:06Z",
  "lastUpdateTime": "2020-10-18T23:51:00Z", "relatedUser": {"userName": "pgustavo", "domainName": "THESHIRE"}}]}`
	post := func(p *ProductAlerts) (int, ProductAlertsResponse) {
		t.Helper()
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/product-alerts", strings.NewReader(body)))
		var resp ProductAlertsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
		return rec.Code, resp
	}
	mde := &ProductAlerts{JS: s.JS, Service: "endpointingest", Side: adjoinv1.Side_SIDE_ENDPOINT, Log: zaptest.NewLogger(t),
		Convert: productalert.FromMDEAlert, MaxClockSkew: DefaultMaxClockSkew}
	if code, resp := post(mde); code != http.StatusOK || resp.Accepted != 1 || resp.Duplicates != 0 {
		t.Fatalf("first post: %d %+v", code, resp)
	}
	if code, resp := post(mde); code != http.StatusOK || resp.Duplicates != 1 {
		t.Errorf("resend: %d %+v, want a duplicate", code, resp)
	}
	graph := &ProductAlerts{JS: s.JS, Service: "endpointingest", Side: adjoinv1.Side_SIDE_ENDPOINT, Log: zaptest.NewLogger(t),
		MaxClockSkew: DefaultMaxClockSkew}
	if code, resp := post(graph); code == http.StatusOK && resp.Accepted != 0 {
		t.Errorf("default (Graph) converter took the MDE shape: %d %+v", code, resp)
	}
}
