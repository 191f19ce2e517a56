package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names of the contract.
const (
	StreamDCEvents       = "DC_EVENTS"
	StreamEndpointEvents = "ENDPOINT_EVENTS"
	StreamAlerts         = "ALERTS"
	StreamCorrelated     = "CORRELATED"
	StreamIncidents      = "INCIDENTS"
	StreamDeadLetter     = "DEADLETTER"
	// StreamCounts carries one count message per (alert version, entity) from the correlator's
	// resolve stage to the owner of the entity's partition.
	StreamCounts = "COUNTS"
)

// KV bucket names of the contract.
const (
	BucketDirectory = "adjoin_directory"
	BucketDevices   = "adjoin_devices"
	BucketBadges    = "adjoin_badges"
	BucketConfig    = "adjoin_config"
	BucketStatus    = "adjoin_status"
	// BucketPending holds alerts with references that did not resolve yet, so a later
	// directory sync or logon can still place them (correlator; not in the first DESIGN table).
	BucketPending = "adjoin_pending"
	// BucketIncidents holds the current state of each incident (correlator).
	BucketIncidents = "adjoin_incidents"
)

// Object Store bucket names.
const (
	// BucketCounter holds the snapshots of the correlator's partition owners, object "p<N>".
	BucketCounter = "adjoin_counter"
	// BucketDirectorySnapshot holds the adjoin_directory bucket's entries as of one sequence,
	// object "directory", written by the correlator, so readers start without one message per
	// entity (pkg/directory).
	BucketDirectorySnapshot = "adjoin_directory_snapshot"
)

// Subject prefixes of the contract.
const (
	SubjectDCEvents           = "events.dc"
	SubjectEndpointEvents     = "events.endpoint"
	SubjectIdentityAlerts     = "alerts.identity"
	SubjectEndpointAlerts     = "alerts.endpoint"
	SubjectCorrelatedUser     = "correlated.user"
	SubjectCorrelatedComputer = "correlated.computer"
	SubjectExcluded           = "correlated.excluded"
	SubjectUnresolved         = "correlated.unresolved"
	SubjectIncidents          = "incidents"
	SubjectDeadLetter         = "deadletter"
	SubjectCounts             = "counts"
)

// dedupWindow bounds how long a stream remembers Nats-Msg-Id values. Replays older than this
// are still harmless: alert ids are deterministic and the correlator applies each alert version
// once, so the window only saves work.
const dedupWindow = 2 * time.Hour

// Topology is every stream and bucket adjoin needs, for a given replica count.
type Topology struct {
	Streams []jetstream.StreamConfig
	Buckets []jetstream.KeyValueConfig
	Objects []jetstream.ObjectStoreConfig
}

// NewTopology returns the DESIGN.md table as configuration. replicas is 1 on a single server
// and 3 on the clustered profile.
func NewTopology(replicas int) Topology {
	if replicas < 1 {
		replicas = 1
	}
	stream := func(name, description string, maxAge time.Duration, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: description,
			Subjects:    subjects,
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Replicas:    replicas,
			MaxAge:      maxAge,
			Duplicates:  dedupWindow,
		}
	}
	bucket := func(name, description string, history uint8) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{
			Bucket:      name,
			Description: description,
			History:     history,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}
	}
	week, month := 7*24*time.Hour, 30*24*time.Hour
	return Topology{
		Streams: []jetstream.StreamConfig{
			stream(StreamDCEvents, "raw normalised domain-controller signals", week, SubjectDCEvents+".>"),
			stream(StreamEndpointEvents, "raw normalised endpoint signals", week, SubjectEndpointEvents+".>"),
			stream(StreamAlerts, "alerts of both sides, every version", 0, SubjectIdentityAlerts+".>", SubjectEndpointAlerts+".>"),
			stream(StreamCorrelated, "alerts joined to on-prem AD entities", 0,
				SubjectCorrelatedUser+".*", SubjectCorrelatedComputer+".*", SubjectExcluded, SubjectUnresolved),
			stream(StreamIncidents, "cross-source incidents", 0, SubjectIncidents+".*"),
			stream(StreamDeadLetter, "input that could not be accepted, with the reason", month, SubjectDeadLetter+".>"),
			stream(StreamCounts, "one count per alert version and entity, by partition", week, SubjectCounts+".>"),
		},
		Buckets: []jetstream.KeyValueConfig{
			bucket(BucketDirectory, "entity key -> adjoin.v1.Entity", 1),
			bucket(BucketDevices, "entity key -> adjoin.v1.DeviceRecord", 1),
			bucket(BucketBadges, "entity key -> adjoin.v1.EntityCounts", 1),
			bucket(BucketConfig, "integration toggles and link templates", 5),
			bucket(BucketStatus, "service heartbeats, lag, last error", 1),
			withTTL(bucket(BucketPending, "alert id -> adjoin.v1.Alert with unresolved references", 1), week),
			bucket(BucketIncidents, "incident id -> adjoin.v1.Incident", 1),
		},
		Objects: []jetstream.ObjectStoreConfig{
			{Bucket: BucketCounter, Description: "partition owner snapshots, object p<N>", Storage: jetstream.FileStorage, Replicas: replicas},
			{Bucket: BucketDirectorySnapshot, Description: "adjoin_directory entries as of one sequence, object directory", Storage: jetstream.FileStorage, Replicas: replicas},
		},
	}
}

func withTTL(c jetstream.KeyValueConfig, ttl time.Duration) jetstream.KeyValueConfig {
	c.TTL = ttl
	return c
}

// Provision creates every stream and bucket of t, or updates it in place when it exists. It
// never deletes or purges, so running it on every start is safe.
func Provision(ctx context.Context, js jetstream.JetStream, t Topology) error {
	for _, cfg := range t.Streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("provision stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.Buckets {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("provision bucket %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.Objects {
		if _, err := js.CreateOrUpdateObjectStore(ctx, cfg); err != nil {
			return fmt.Errorf("provision object store %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// Check reports the first stream or bucket of t that is missing, for readiness probes.
func Check(ctx context.Context, js jetstream.JetStream, t Topology) error {
	for _, cfg := range t.Streams {
		if _, err := js.Stream(ctx, cfg.Name); err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.Buckets {
		if _, err := js.KeyValue(ctx, cfg.Bucket); err != nil {
			return fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.Objects {
		if _, err := js.ObjectStore(ctx, cfg.Bucket); err != nil {
			return fmt.Errorf("object store %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// CorrelatedSubject is the CORRELATED subject of an entity: correlated.computer.<key> for a
// computer, correlated.user.<key> otherwise. An entity key (a GUID or a SID) is kept as is;
// anything else is made one bounded token (KeyToken), so a key read from a directory export
// can never cut the correlator or the badge service off NATS.
func CorrelatedSubject(computer bool, key string) string {
	if computer {
		return SubjectCorrelatedComputer + "." + KeyToken(key)
	}
	return SubjectCorrelatedUser + "." + KeyToken(key)
}
