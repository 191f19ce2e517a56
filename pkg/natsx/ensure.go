package natsx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/logx"
)

// errNotPermitted means the NATS user may not create streams; on the shipped server config only
// the admin user may (`adjoin provision`).
var errNotPermitted = errors.New("not permitted to create streams")

// Ensure returns once every stream and bucket of t exists. What is missing is created when the
// connection's user may create streams (no authorization, as in `adjoin dev` and the tests);
// when the server refuses, Ensure logs what is missing and checks again with backoff until the
// admin provisioned it or ctx ends. It never changes a stream or bucket that exists: that is
// Provision's job.
func Ensure(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, t Topology, log *zap.Logger) error {
	mayCreate := true
	var lastLog time.Time
	var missing []string
	for attempt := 1; ; attempt++ {
		var err error
		missing, err = Missing(ctx, js, t)
		switch {
		case err == nil && len(missing) == 0:
			return nil
		case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
			return err
		case err != nil:
			log.Warn("checking streams and buckets failed, retrying", zap.Int("attempt", attempt), logx.Err(err),
				zap.NamedError("last_nats_error", nc.LastError()))
		case mayCreate:
			err = createMissing(ctx, nc, js, t, missing)
			switch {
			case err == nil:
				log.Info("created missing streams and buckets", zap.Strings("created", missing))
				continue
			case errors.Is(err, errNotPermitted):
				mayCreate = false
				lastLog = time.Now()
				log.Warn("streams or buckets are missing and this NATS user may not create them: waiting for the admin to run `adjoin provision`",
					zap.Strings("missing", missing))
			default:
				log.Warn("creating missing streams and buckets failed, retrying", zap.Strings("missing", missing), logx.Err(err))
			}
		case time.Since(lastLog) > 30*time.Second:
			lastLog = time.Now()
			log.Warn("still waiting for the admin to run `adjoin provision`", zap.Strings("missing", missing))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("streams and buckets not ready (missing: %s): %w", strings.Join(missing, ", "), ctx.Err())
		case <-time.After(backoff(attempt)):
		}
	}
}

// Missing lists the streams ("stream NAME"), buckets ("bucket NAME") and object stores
// ("object store NAME") of t that do not exist. Any other failure is an error.
func Missing(ctx context.Context, js jetstream.JetStream, t Topology) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var missing []string
	for _, cfg := range t.Streams {
		_, err := js.Stream(ctx, cfg.Name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			missing = append(missing, "stream "+cfg.Name)
		case err != nil:
			return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.Buckets {
		_, err := js.KeyValue(ctx, cfg.Bucket)
		switch {
		case errors.Is(err, jetstream.ErrBucketNotFound):
			missing = append(missing, "bucket "+cfg.Bucket)
		case err != nil:
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.Objects {
		_, err := js.ObjectStore(ctx, cfg.Bucket)
		switch {
		case errors.Is(err, jetstream.ErrBucketNotFound):
			missing = append(missing, "object store "+cfg.Bucket)
		case err != nil:
			return nil, fmt.Errorf("object store %s: %w", cfg.Bucket, err)
		}
	}
	return missing, nil
}

// createMissing creates the listed streams and buckets of t. A stream or bucket that another
// service created meanwhile counts as created. A refusal of the server (permissions) is
// errNotPermitted: the request then times out while the server reports the violation
// asynchronously, so it is recognised from the connection's last error.
func createMissing(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, t Topology, missing []string) error {
	want := map[string]bool{}
	for _, m := range missing {
		want[m] = true
	}
	create := func(stream string, f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := f(cctx)
		switch {
		case err == nil, errors.Is(err, jetstream.ErrStreamNameAlreadyInUse), errors.Is(err, jetstream.ErrBucketExists):
			return nil
		case deniedSubject(nc.LastError(), "$JS.API.STREAM.CREATE."+stream):
			return fmt.Errorf("stream %s: %w", stream, errNotPermitted)
		}
		return fmt.Errorf("create stream %s: %w", stream, err)
	}
	for _, cfg := range t.Streams {
		if want["stream "+cfg.Name] {
			if err := create(cfg.Name, func(ctx context.Context) error { _, err := js.CreateStream(ctx, cfg); return err }); err != nil {
				return err
			}
		}
	}
	for _, cfg := range t.Buckets {
		if want["bucket "+cfg.Bucket] {
			if err := create("KV_"+cfg.Bucket, func(ctx context.Context) error { _, err := js.CreateKeyValue(ctx, cfg); return err }); err != nil {
				return err
			}
		}
	}
	for _, cfg := range t.Objects {
		if want["object store "+cfg.Bucket] {
			if err := create("OBJ_"+cfg.Bucket, func(ctx context.Context) error { _, err := js.CreateObjectStore(ctx, cfg); return err }); err != nil {
				return err
			}
		}
	}
	return nil
}

// deniedSubject reports whether err is the server's permissions violation for publishing to
// subject.
func deniedSubject(err error, subject string) bool {
	return errors.Is(err, nats.ErrPermissionViolation) &&
		strings.Contains(strings.ToLower(err.Error()), strings.ToLower(`publish to "`+subject+`"`))
}
