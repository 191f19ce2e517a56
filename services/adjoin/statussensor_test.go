package adjoin

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestStatusShowsSensorCounters: the DC ingestor of `adjoin dev` reads the S1 DCSync capture
// (--pcap); its next heartbeat carries the sensor's counters (377 packets, 9 records) and
// `adjoin status` prints them on the dcingest row. Heartbeats are written every 10 seconds:
// the poll waits for the first one after the capture was read.
func TestStatusShowsSensorCounters(t *testing.T) {
	capture := filepath.Join(sample.Dir(t), "otrf", "pcap", "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap")
	s := startStackWith(t, func(c *DevConfig) {
		c.DCIngest = func(dc *dcingest.Config) { dc.Sensor = dcingest.SensorConfig{Name: "mordordc-sensor", Pcap: capture} }
	})
	testkit.Eventually(t, 40*time.Second, func() error {
		out, errOut, code := run(t, "status", "--badge-addr="+s.GRPCAddr)
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, errOut)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "service dcingest") && strings.Contains(line, "sensor.packets 377") &&
				strings.Contains(line, "sensor.records 9") && strings.Contains(line, "sensor.dropped_flows 0") {
				return nil
			}
		}
		return fmt.Errorf("no dcingest row with the sensor's counters:\n%s", out)
	})
}
