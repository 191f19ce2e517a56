// Package endpointingest is the endpoint-signal ingestor: it takes Sysmon and endpoint Security
// events over HTTP, keeps them on ENDPOINT_EVENTS, runs the endpoint-side detectors over that
// stream and publishes their alerts on ALERTS. It also records which devices and users the
// endpoint side knows (adjoin_devices), which decides whether a badge is live or greyed.
package endpointingest

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/intake"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/productalert"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/endpointingest/detect"
	"github.com/adjoin/adjoin/services/endpointingest/internal/adapters"
	"github.com/adjoin/adjoin/services/endpointingest/internal/ports"
	"go.uber.org/zap"
)

// Name is the service name used in logs, dead-letter subjects and NATS client names.
const Name = "endpointingest"

// Config is every setting of the endpoint ingestor.
type Config struct {
	NATS natsx.Settings
	HTTP intake.ServiceConfig
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
	// DeviceEvery bounds how often one device record is rewritten only to move last-seen.
	DeviceEvery time.Duration
	// DevicesFile, when set, is a Defender for Endpoint machines API export loaded into
	// adjoin_devices at start.
	DevicesFile string
}

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	c.HTTP.Flags(s, ":8082")
	s.Duration(&c.DeviceEvery, "device-every", time.Minute, "least time between two last-seen updates of one device")
	s.String(&c.DevicesFile, "devices-file", "", "Defender for Endpoint machines JSON to load into the device inventory at start")
}

// DefaultConfig is the Config the flags give when none is set. The flag definitions are the
// one place of the defaults; code that builds a Config (tests, adjoin dev) starts from this.
func DefaultConfig() Config {
	var c Config
	config.Defaults(c.Flags)
	return c
}

// Validate reports the first bad setting by name.
func (c Config) Validate() error {
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	if c.DeviceEvery < 0 {
		return fmt.Errorf("device-every: %s, want >= 0", c.DeviceEvery)
	}
	return c.HTTP.Validate()
}

// Run serves until ctx ends: intake stops first, the detection consumer finishes its batch,
// and the NATS connection drains last.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With(zap.String("service", Name))
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	cfg.NATS.Name = "adjoin-" + Name
	nc, js, err := natsx.Setup(ctx, cfg.NATS.ConnectOptions, cfg.NATS.Replicas, log)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck // best effort at exit
	log, stopHeartbeat := heartbeat.Start(ctx, js, Name, svcmain.Version(), log)
	defer stopHeartbeat()

	devKV, err := js.KeyValue(ctx, natsx.BucketDevices)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDevices, err)
	}
	index, stopIndex, err := directory.Open(ctx, nc, js, log)
	if err != nil {
		return err
	}
	defer stopIndex()
	devices := &adapters.Devices{KV: devKV, Index: index, Every: cfg.DeviceEvery}
	inventory := &ports.Inventory{Devices: devices, Log: log, MaxClockSkew: cfg.HTTP.MaxClockSkew}
	if cfg.DevicesFile != "" {
		n, err := inventory.LoadFile(ctx, cfg.DevicesFile)
		if err != nil {
			return fmt.Errorf("devices-file: %w", err)
		}
		log.Info("device inventory loaded", zap.String("file", cfg.DevicesFile), zap.Int("stored", n))
	}
	return intake.Serve(ctx, js, cfg.HTTP, intake.Pipeline{
		Routes: map[string]http.Handler{
			"/v1/devices":        inventory,
			"/v1/product-alerts": &intake.ProductAlerts{JS: js, Service: Name, Side: adjoinv1.Side_SIDE_ENDPOINT, Log: log, MaxClockSkew: cfg.HTTP.MaxClockSkew},
			"/v1/product-alerts/mde": &intake.ProductAlerts{JS: js, Service: Name, Side: adjoinv1.Side_SIDE_ENDPOINT, Log: log, MaxClockSkew: cfg.HTTP.MaxClockSkew,
				Convert: productalert.FromMDEAlert},
		},
		Service:       Name,
		SubjectPrefix: natsx.SubjectEndpointEvents,
		Stream:        natsx.StreamEndpointEvents,
		Detectors:     Detectors(),
		OnEvent:       devices.Seen,
		Ready:         natsx.Ready(nc, js, cfg.NATS.Replicas),
		Conn:          nc,
		Metrics:       cfg.Metrics,
	}, log)
}

// Detectors returns a fresh set of the endpoint-side detectors, state keepers first;
// `adjoin detect` uses the same set offline.
func Detectors() []detection.Detector {
	procs := detect.NewProcesses(100_000)
	return []detection.Detector{procs, detect.NewLSASSAccess(procs), detect.UserBinaryToDomainService{},
		detect.NewLSASSDumpComsvcs(procs),
		detect.NewCredentialToolCommandLine(),
		detect.NewEncodedPowerShell(),
		detect.NewLSASecretsDump(),
		detect.NewPsExecService(),
		detect.NewWinRMShellEndpoint(),
		detect.NewPassTheHashLogon(),
		detect.NewRunKey(),
		detect.NewKerberosFromNonLSASS(),
		&productalert.Detector{Side: adjoinv1.Side_SIDE_ENDPOINT}}
}
