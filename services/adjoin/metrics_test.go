package adjoin

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

func TestMetricsFollowTheData(t *testing.T) {
	s := startStack(t)
	body := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	if _, code := post(t, s.DCURL, append(body, []byte("not json\n")...)); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	s.settled(t)
	_ = s.badge(t, "pgustavo")
	want := []string{
		`adjoin_events_received_total{format="winevent-nxlog",service="dcingest"} 869`,
		`adjoin_events_rejected_total{reason="not-json",service="dcingest"} 1`,
		`adjoin_alerts_published_total{detector="dcsync",service="dcingest",side="identity"} 1`,
		`adjoin_directory_objects{kind="user"} 3`,
		`adjoin_grpc_requests_total{code="OK",method="/adjoin.v1.BadgeService/GetBadge"} 1`,
		`adjoin_correlator_processing_seconds_count 1`,
	}
	for _, url := range []string{s.DCURL, s.CorrelatorURL, s.BadgeURL} {
		testkit.Eventually(t, 10*time.Second, func() error {
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			for _, w := range want {
				if !strings.Contains(string(b), w) {
					return fmt.Errorf("%s/metrics lacks %s", url, w)
				}
			}
			// The DCSync is counted at once, or first partly (its source address placed on
			// WORKSTATION5 once the logon feed has the machine's logon): either way, once.
			if !strings.Contains(string(b), `adjoin_alerts_correlated_total{outcome="counted"} 1`) &&
				!strings.Contains(string(b), `adjoin_alerts_correlated_total{outcome="partly-resolved"} 1`) {
				return fmt.Errorf("%s/metrics lacks the correlated DCSync", url)
			}
			return nil
		})
	}
}
