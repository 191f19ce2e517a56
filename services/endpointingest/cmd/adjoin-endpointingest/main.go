// Command adjoin-endpointingest runs the endpointingest service; see package endpointingest for what it does.
package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/endpointingest"
)

func main() {
	var cfg endpointingest.Config
	os.Exit(svcmain.Main("adjoin-endpointingest", doc, os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return endpointingest.Run(ctx, cfg, log)
	}))
}

// doc is what --help says before the settings.
var doc = svcmain.Doc{
	About: `adjoin-endpointingest is the endpoint side's ingestor: it takes Sysmon events and EDR product
alerts (HTTP NDJSON, syslog, file tailing), stores them on ENDPOINT_EVENTS, runs the endpoint
detectors (LSASS access, pass-the-hash logons, user-folder programs calling domain services...)
and publishes their alerts on ALERTS. It also keeps which devices and users the endpoint side
knows in adjoin_devices.`,
	Example: "ADJOIN_NATS_URL=nats://127.0.0.1:4222 adjoin-endpointingest --http-addr :8082",
}
