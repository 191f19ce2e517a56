// Package dcingest is the domain-controller-traffic ingestor: it takes Windows Security events
// from domain controllers over HTTP, keeps them on DC_EVENTS, runs the identity-side detectors
// over that stream and publishes their alerts on ALERTS. It also owns the on-premises
// directory, synced into adjoin_directory from a domain controller over LDAP or loaded from an
// LDIF export: internal/ldapsource reads the accounts, internal/dirsync runs the LDAP sync loop
// and records each sync in adjoin_status, internal/adapters writes the bucket.
package dcingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/ingest/wire"
	"github.com/adjoin/adjoin/pkg/metrics"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/service"
	"github.com/adjoin/adjoin/services/dcingest/detect"
	"github.com/adjoin/adjoin/services/dcingest/internal/adapters"
	"github.com/adjoin/adjoin/services/dcingest/internal/dirsync"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldapsource"
)

// Name is the service name used in logs, dead-letter subjects and NATS client names.
const Name = "dcingest"

// Config is every setting of the DC ingestor.
type Config struct {
	NATS natsx.Settings
	HTTP intake.ServiceConfig
	// Metrics is shared when several services run in one process; nil makes a new one.
	Metrics *metrics.Metrics
	// LDIFFile is an ldifde-style export loaded into the directory on start.
	LDIFFile string
	// LDIFData is used instead of LDIFFile when set (the demo directory of adjoin dev).
	LDIFData      []byte
	NetBIOSDomain string
	// Honeytokens are decoy accounts (sAMAccountName, DOMAIN\sam, UPN, SID, objectGUID or DN)
	// whose any use is an alert.
	Honeytokens string
	// DCAddresses lists the domain controllers' addresses or prefixes, which the network
	// (Zeek) detectors need to tell replication between DCs from DCSync.
	DCAddresses string
	// Samba is the Samba AD DC audit log source (--samba-log, --samba-dc).
	Samba SambaConfig
	// LDAP is the directory sync from a domain controller (--ldap-url and the other --ldap-*).
	LDAP LDAPSettings
	// Sensor is the DC traffic sensor (--pcap, --capture, --sensor-name).
	Sensor SensorConfig
}

// LDAPSettings are the --ldap-* settings of the directory sync from a domain controller.
type LDAPSettings = dirsync.LDAPSettings

// Flags defines the settings on s.
func (c *Config) Flags(s *config.Set) {
	c.NATS.Flags(s)
	c.HTTP.Flags(s, ":8081")
	s.String(&c.LDIFFile, "directory-ldif", "", "LDIF export of on-prem AD users and computers, loaded on start")
	s.String(&c.NetBIOSDomain, "netbios-domain", "", "NetBIOS domain name (default: first DC= label of each DN, upper-cased)")
	s.String(&c.DCAddresses, "dc-addresses", "", "comma-separated domain controller addresses or CIDR prefixes, for the Zeek replication detector")
	s.String(&c.Honeytokens, "honeytokens", "", "comma-separated decoy accounts (sam, DOMAIN\\sam, UPN, SID, objectGUID or DN) whose use raises an alert")
	c.Samba.Flags(s)
	c.LDAP.Flags(s)
	c.Sensor.Flags(s)
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
	if err := c.HTTP.Validate(); err != nil {
		return err
	}
	if c.LDIFFile != "" {
		if _, err := os.Stat(c.LDIFFile); err != nil {
			return fmt.Errorf("directory-ldif: %w", err)
		}
	}
	if _, err := detect.ZeekDCAddresses(config.SplitList(c.DCAddresses)...); err != nil {
		return fmt.Errorf("dc-addresses: %w", err)
	}
	if err := c.LDAP.Validate(); err != nil {
		return err
	}
	if err := c.Sensor.Validate(); err != nil {
		return err
	}
	return c.Samba.Validate()
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

// start loads the directory (LDIF, then the bucket, then LDAP) and starts the intake.
func start(ctx context.Context, rt *service.Runtime, cfg Config) error {
	dirKV, err := rt.JS.KeyValue(ctx, natsx.BucketDirectory)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", natsx.BucketDirectory, err)
	}
	if err := importLDIF(ctx, cfg, rt.JS, adapters.DirectoryKV{KV: dirKV}, rt.Log); err != nil {
		cfg.Metrics.DirectorySyncErrors.Inc()
		return err
	}
	index := directory.NewIndex()
	index.OnChange = func(string) { directoryGauges(cfg.Metrics, index) }
	stopIndex, err := natsx.Resume(ctx, rt.NC, func(wctx context.Context) error { return index.Follow(wctx, dirKV, rt.Log) }, rt.Log)
	if err != nil {
		return err
	}
	rt.OnStop(stopIndex)
	directoryGauges(cfg.Metrics, index)
	stopLDAP, err := dirsync.StartLDAP(ctx, cfg.LDAP, cfg.NetBIOSDomain, rt.JS, dirKV, cfg.Metrics, rt.Log)
	if err != nil {
		return err
	}
	rt.OnStop(stopLDAP)
	pipeline := intake.Pipeline{
		Routes: map[string]http.Handler{"/v1/product-alerts": &intake.ProductAlerts{JS: rt.JS, Service: Name,
			Side: adjoinv1.Side_SIDE_IDENTITY, Log: rt.Log, MaxClockSkew: cfg.HTTP.MaxClockSkew}},
		Service:       Name,
		SubjectPrefix: natsx.SubjectDCEvents,
		Stream:        natsx.StreamDCEvents,
		Detectors:     Detectors(index, DetectorOptions{Honeytokens: config.SplitList(cfg.Honeytokens), DCAddresses: config.SplitList(cfg.DCAddresses)}),
		Live:          rt.Live(),
		Ready:         rt.Ready(),
		Follow:        cfg.Samba.follow(),
		Formats:       cfg.Samba.formats(),
		Metrics:       cfg.Metrics,
	}
	// The capture opens before the intake serves /readyz: ready means the traffic is watched.
	var live *wire.Live
	if cfg.Sensor.Capture != "" {
		if live, err = wire.OpenLive(cfg.Sensor.Capture, cfg.Sensor.RingMiB<<20); err != nil {
			return err
		}
	}
	rt.Go(func(ctx context.Context) error { return intake.Serve(ctx, rt.JS, cfg.HTTP, pipeline, rt.Log) })
	counts := sensorCounts{metrics: cfg.Metrics, heartbeat: rt.Counters}
	if live != nil {
		rt.Go(func(ctx context.Context) error { return capture(ctx, live, cfg.Sensor, rt.JS, counts, rt.Log) })
	}
	if cfg.Sensor.Pcap != "" {
		rt.Go(func(ctx context.Context) error { return readPcaps(ctx, cfg.Sensor, rt.JS, counts, rt.Log) })
	}
	return nil
}

func importLDIF(ctx context.Context, cfg Config, js jetstream.JetStream, store adapters.DirectoryKV, log *zap.Logger) error {
	data, source := cfg.LDIFData, "ldif:embedded-demo"
	if cfg.LDIFFile != "" {
		b, err := os.ReadFile(cfg.LDIFFile)
		if err != nil {
			return fmt.Errorf("directory-ldif: %w", err)
		}
		data, source = b, "ldif:"+filepath.Base(cfg.LDIFFile)
	}
	if data == nil {
		return nil
	}
	entities, err := ldapsource.ParseLDIF(bytes.NewReader(data), ldapsource.Options{NetBIOSDomain: cfg.NetBIOSDomain, Source: source})
	if err != nil {
		err = fmt.Errorf("directory-ldif %s: %w", source, err)
		dirsync.RecordLDIF(ctx, js, source, nil, adapters.ImportResult{}, err, log)
		return err
	}
	res, err := store.Import(ctx, entities)
	dirsync.RecordLDIF(ctx, js, source, entities, res, err, log)
	if err != nil {
		return err
	}
	cfg.Metrics.DirectorySyncTime.SetToCurrentTime()
	log.Info("directory imported", zap.String("source", source), zap.Int("entities", len(entities)),
		zap.Int("written", res.Written), zap.Int("unchanged", res.Unchanged))
	return nil
}

// directoryGauges sets the directory object counts by kind.
func directoryGauges(m *metrics.Metrics, ix *directory.Index) {
	m.DirectoryObjects.WithLabelValues("user").Set(float64(ix.CountKind(adjoinv1.EntityKind_ENTITY_KIND_USER)))
	m.DirectoryObjects.WithLabelValues("computer").Set(float64(ix.CountKind(adjoinv1.EntityKind_ENTITY_KIND_COMPUTER)))
}

// Detectors returns a fresh set of the identity-side detectors, in the order they must see
// each event (state keepers first). index is the directory (may be empty); `adjoin detect`
// uses the same set offline.
func Detectors(index *directory.Index, o DetectorOptions) []detection.Detector {
	sessions := detect.NewSessions(100_000)
	dir := adapters.DCLookup{Index: index}
	isDC, err := detect.ZeekDCAddresses(o.DCAddresses...)
	if err != nil || len(o.DCAddresses) == 0 {
		isDC = nil // Validate reports bad addresses; without a list the detector stays silent
	}
	// Sessions only remembers logons, and product alerts keep their vendor's severity; every
	// other detector is wrapped so that attacks on privileged accounts rank higher.
	remoteService, smbExecution := detect.NewRemoteExecutionPair()
	ds := append([]detection.Detector{sessions}, detect.WithPrivilegedTargets(dir,
		detect.NewDCSync(dir, sessions),
		detect.NewSAMREnumeration(sessions),
		detect.NewShareEnumeration(),
		detect.NewGroupEnumeration(sessions),
		detect.NewAccountEnumeration(),
		detect.NewTGSHostEnumeration(),
		detect.NewHoneytokenAccess(sessions, o.Honeytokens...),
		detect.NewPasswordSpray(),
		detect.NewPasswordBruteForce(),
		detect.NewKerberoasting(),
		detect.NewASREPRoasting(),
		remoteService, smbExecution,
		detect.NewRemoteScheduledTask(sessions),
		detect.NewRDPUnusualSource(),
		detect.NewPassTheHash(),
		detect.NewOverpassTheHash(),
		detect.NewDCSyncRightsGranted(sessions),
		detect.NewGoldenTicket(dir),
		detect.NewPrivilegedGroupAddition(sessions, dir),
		detect.NewZerologon(dir),
		detect.NewDCPasswordReset(dir, sessions),
		detect.NewDCShadow(dir),
		detect.NewSAMAccountNameSpoofing(dir),
		detect.NewRBCDConfigured(dir, sessions),
		detect.NewSPNAddedToUser(dir, sessions),
		detect.NewSIDHistoryAdded(dir, sessions),
		detect.NewNamedPipeSweep(),
		detect.NewPrivilegedACLChange(sessions),
		detect.NewLDAPRecon(),
		detect.NewZeekSAMREnumeration(),
		detect.NewZeekKerberosRC4(),
		detect.NewZeekAdminShare(),
		detect.NewZeekDRSReplication(isDC),
		detect.NewZeekRemoteServiceCreation(),
		detect.NewZeekSAMRListing(isDC),
		detect.NewZeekLDAPRecon(),
		detect.NewWireASREPRoasting(),
		detect.NewWireKerberoasting(),
		detect.NewWireOverpassTheHash(),
		detect.NewWireKerberosPreauthFailures(),
		detect.NewWireZerologon(),
		detect.NewTicketFromSecondHost(),
		detect.NewNTLMAnomaly(),
		detect.NewWinRMRemoteShell(),
		detect.NewDPAPIBackupKey(sessions),
		detect.NewDSRMPasswordChange(),
		detect.NewRemoteHiveDump(),
	)...)
	return append(ds, &productalert.Detector{Side: adjoinv1.Side_SIDE_IDENTITY})
}

// DetectorOptions configure the identity detectors.
type DetectorOptions struct {
	Honeytokens []string
	DCAddresses []string
}

// ReadLDIF parses an ldifde-style export into directory entities, for tools that load a
// directory without a running deployment (`adjoin detect --directory-ldif`).
func ReadLDIF(r io.Reader, netbiosDomain, source string) ([]*adjoinv1.Entity, error) {
	return ldapsource.ParseLDIF(r, ldapsource.Options{NetBIOSDomain: netbiosDomain, Source: source})
}
