package adjoin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestDeviceInventoryGreysAndLinks loads a Defender for Endpoint machines record (hand-written
// in the documented API shape; shared/data has no inventory export) for a lab computer that
// the endpoint side cannot protect: its badge is greyed "not onboarded", and once onboarded
// the badge is live.
func TestDeviceInventoryGreysAndLinks(t *testing.T) {
	s := startStack(t)
	put := func(status string) {
		t.Helper()
		body := `{"value":[{"id":"1e5bc9d7e413ddd7902c2932e418702b84d0cc07","computerDnsName":"WORKSTATION5.theshire.local",` +
			`"onboardingStatus":"` + status + `","firstSeen":"2020-08-01T00:00:00Z","lastSeen":"2020-08-05T06:10:00Z","osPlatform":"Windows10"}]}`
		resp, err := http.Post(s.EndpointURL+"/v1/devices", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/devices: %s", resp.Status)
		}
	}
	put("CanBeOnboarded")
	testkit.Eventually(t, 10*time.Second, func() error {
		if r := s.badge(t, "WORKSTATION5").GetEndpoint().GetGreyedReason(); r != adjoinv1.GreyedReason_GREYED_REASON_NOT_ONBOARDED {
			return fmt.Errorf("WORKSTATION5 endpoint reason %v, want NOT_ONBOARDED", r)
		}
		return nil
	})
	put("Onboarded")
	testkit.Eventually(t, 10*time.Second, func() error {
		if ep := s.badge(t, "WORKSTATION5").GetEndpoint(); !ep.GetKnown() {
			return fmt.Errorf("WORKSTATION5 endpoint greyed %v after onboarding", ep.GetGreyedReason())
		}
		return nil
	})
}
