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

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/endpointingest/detect"
	"github.com/adjoin/adjoin/services/endpointingest/internal/adapters"
	"github.com/adjoin/adjoin/services/endpointingest/internal/ports"
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
	return service.Run(ctx, service.Options{Name: Name, Config: cfg, NATS: cfg.NATS, Metrics: cfg.Metrics}, log,
		func(ctx context.Context, rt *service.Runtime) error {
			cfg.Metrics = rt.Metrics // the one made when cfg had none
			return start(ctx, rt, cfg)
		})
}

// start loads the directory and the device inventory, and starts the intake.
func start(ctx context.Context, rt *service.Runtime, cfg Config) error {
	devKV, err := rt.JS.KeyValue(ctx, natsx.BucketDevices)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDevices, err)
	}
	index, stopIndex, err := directory.Open(ctx, rt.NC, rt.JS, rt.Log)
	if err != nil {
		return err
	}
	rt.OnStop(stopIndex)
	devices := &adapters.Devices{KV: devKV, Index: index, Every: cfg.DeviceEvery}
	inventory := &ports.Inventory{Devices: devices, Log: rt.Log, MaxClockSkew: cfg.HTTP.MaxClockSkew}
	if cfg.DevicesFile != "" {
		n, err := inventory.LoadFile(ctx, cfg.DevicesFile)
		if err != nil {
			return fmt.Errorf("devices-file: %w", err)
		}
		rt.Log.Info("device inventory loaded", zap.String("file", cfg.DevicesFile), zap.Int("stored", n))
	}
	alerts := func(convert func([]byte) ([]*adjoinv1.Alert, error)) *intake.ProductAlerts {
		return &intake.ProductAlerts{JS: rt.JS, Service: Name, Side: adjoinv1.Side_SIDE_ENDPOINT, Log: rt.Log,
			MaxClockSkew: cfg.HTTP.MaxClockSkew, Convert: convert}
	}
	pipeline := intake.Pipeline{
		Routes: map[string]http.Handler{
			"/v1/devices":            inventory,
			"/v1/product-alerts":     alerts(nil),
			"/v1/product-alerts/mde": alerts(productalert.FromMDEAlert),
		},
		Service:       Name,
		SubjectPrefix: natsx.SubjectEndpointEvents,
		Stream:        natsx.StreamEndpointEvents,
		Detectors:     Detectors(),
		OnEvent:       devices.Seen,
		Live:          rt.Live(),
		Ready:         rt.Ready(),
		Metrics:       cfg.Metrics,
	}
	rt.Go(func(ctx context.Context) error { return intake.Serve(ctx, rt.JS, cfg.HTTP, pipeline, rt.Log) })
	return nil
}

// Detectors returns a fresh set of the endpoint-side detectors, state keepers first;
// `adjoin detect` uses the same set offline.
func Detectors() []detection.Detector {
	procs := detect.NewProcesses(100_000)
	ds := []detection.Detector{procs, detect.NewLSASSAccess(procs), detect.UserBinaryToDomainService{},
		detect.NewLSASSDumpComsvcs(procs),
		detect.NewCredentialToolCommandLine(),
		detect.NewEncodedPowerShell(),
		detect.NewLSASecretsDump(),
		detect.NewPsExecService(),
		detect.NewWinRMShellEndpoint(),
		detect.NewWMIRemoteExecution(),
		detect.NewDCOMRemoteExecution(),
		detect.NewNetworkFileDrop(),
		detect.NewPassTheHashLogon(),
		detect.NewRunKey(),
		detect.NewKerberosFromNonLSASS(),
		&productalert.Detector{Side: adjoinv1.Side_SIDE_ENDPOINT}}
	return append(ds, detect.WithCredEpisodes(procs, ds)...)
}
