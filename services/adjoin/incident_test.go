package adjoin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// TestEndToEndS1CrossSourceIncident replays scenario S1 (Covenant DCSync) into both ingestors:
// the domain controller's events show the DCSync by pgustavo from 172.18.39.5, the workstation's
// Sysmon shows the Grunt implant on WORKSTATION5 calling the DC. The correlator places the
// address on WORKSTATION5 through its machine account's logon, and joins both alerts in one
// incident.
func TestEndToEndS1CrossSourceIncident(t *testing.T) {
	s1 := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	s := startStack(t)
	for _, url := range []string{s.DCURL, s.EndpointURL} {
		if r, code := post(t, url, s1); code != http.StatusOK || len(r.Rejected) != 0 {
			t.Fatalf("post to %s: %d %+v", url, code, r)
		}
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		ws5 := s.badge(t, "WORKSTATION5")
		if ws5.GetIdentity().GetTotal() != 1 || ws5.GetEndpoint().GetTotal() != 1 {
			return fmt.Errorf("WORKSTATION5 identity %d endpoint %d, want 1 and 1", ws5.GetIdentity().GetTotal(), ws5.GetEndpoint().GetTotal())
		}
		pg := s.badge(t, `THESHIRE\pgustavo`)
		if pg.GetIdentity().GetTotal() != 1 || pg.GetEndpoint().GetTotal() != 1 || !pg.GetEndpoint().GetKnown() {
			return fmt.Errorf("pgustavo identity %d endpoint %d known %v, want 1, 1, known",
				pg.GetIdentity().GetTotal(), pg.GetEndpoint().GetTotal(), pg.GetEndpoint().GetKnown())
		}
		return nil
	})

	var inc *adjoinv1.Incident
	testkit.Eventually(t, 30*time.Second, func() error {
		kv, err := s.js.KeyValue(context.Background(), natsx.BucketIncidents)
		if err != nil {
			return err
		}
		keys, err := kv.Keys(context.Background())
		if err != nil {
			return err
		}
		for _, k := range keys {
			e, err := kv.Get(context.Background(), k)
			if err != nil {
				return err
			}
			i := &adjoinv1.Incident{}
			if err := natsx.Decode(nil, e.Value(), i); err != nil {
				return err
			}
			if i.GetMergedInto() == "" && len(i.GetAlertIds()) == 2 {
				inc = i
				return nil
			}
		}
		return fmt.Errorf("no incident with 2 alerts among %d", len(keys))
	})
	t.Logf("incident %s: %s; reasons %v", inc.GetId(), inc.GetTitle(), inc.GetReasons())
	if !strings.HasPrefix(inc.GetTitle(), "Cross-source incident") || inc.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH {
		t.Errorf("incident = %q severity %v", inc.GetTitle(), inc.GetSeverity())
	}
	kinds := map[string]bool{}
	for _, r := range inc.GetReasons() {
		kinds[r.GetKind()] = true
	}
	if !kinds["same-user"] && !kinds["same-host"] {
		t.Errorf("reasons = %v, want a same-user or same-host link", inc.GetReasons())
	}
	// The correlated DCSync names WORKSTATION5 through the address, with the evidence.
	msg, err := s.js.Stream(context.Background(), natsx.StreamCorrelated)
	if err != nil {
		t.Fatal(err)
	}
	ws5 := s.badge(t, "WORKSTATION5").GetEntity().GetKey()
	last, err := msg.GetLastMsgForSubject(context.Background(), natsx.SubjectCorrelatedComputer+"."+ws5)
	if err != nil {
		t.Fatal(err)
	}
	var c adjoinv1.CorrelatedAlert
	if err := natsx.Decode(last.Header, last.Data, &c); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range c.GetResolutions() {
		if r.GetMatchedBy() == adjoinv1.MatchKey_MATCH_KEY_IP && r.GetEntityKey() == ws5 && strings.Contains(r.GetMatchedValue(), "172.18.39.5") {
			found = true
		}
	}
	if c.GetAlert().GetDetector() == "dcsync" && !found {
		t.Errorf("DCSync resolutions = %v, want WORKSTATION5 by IP", c.GetResolutions())
	}
	// The copy names no incident (issue 15: incident_id is left empty); the incident lists it.
	if c.GetIncidentId() != "" || !slices.Contains(inc.GetAlertIds(), c.GetAlert().GetId()) {
		t.Errorf("correlated alert %s names incident %q; incident %s lists %q", c.GetAlert().GetId(), c.GetIncidentId(), inc.GetId(), inc.GetAlertIds())
	}
}
