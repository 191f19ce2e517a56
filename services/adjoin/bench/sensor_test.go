package bench

import (
	"path/filepath"
	"testing"
	"time"
)

// TestMeasureSensor: the sensor figure is taken on the largest capture (the S1 DCSync file),
// and both passes read all of it. No speed is asserted here: `adjoin bench` reports it.
func TestMeasureSensor(t *testing.T) {
	res, err := measureSensor(filepath.Join("..", "..", "..", "..", "shared", "data"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.File != "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap" || res.Packets != 377 || res.Records != 9 ||
		res.PacketsPerSec <= 0 || res.GopacketPerSec <= 0 {
		t.Fatalf("%+v", res)
	}
}
