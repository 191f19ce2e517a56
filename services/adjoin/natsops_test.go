package adjoin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// natsOp is one thing a NATS user does, as the services do it.
type natsOp func(ctx context.Context, u *natsUser) error

func publishOp(subject string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		_, err := natsx.Publish(ctx, u.js, subject, "", &adjoinv1.Alert{Id: "test-" + u.name})
		return err
	}
}

func deadLetterOp(service string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		_, err := u.js.PublishMsg(ctx, natsx.DeadLetterMsg(service, "test", []byte(u.name), "test", "test"))
		return err
	}
}

func readyOp(ctx context.Context, u *natsUser) error {
	return natsx.Check(ctx, u.js, natsx.NewTopology(1))
}

// durableOp consumes one message with a durable pull consumer, acknowledges it and reads the
// consumer's state, as the detection runners and the correlator do.
func durableOp(stream string, cfg jetstream.ConsumerConfig) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		cfg.AckPolicy = jetstream.AckExplicitPolicy
		cons, err := u.js.CreateOrUpdateConsumer(ctx, stream, cfg)
		if err != nil {
			return err
		}
		var opts []jetstream.FetchOpt
		for _, g := range cfg.PriorityGroups {
			opts = append(opts, jetstream.FetchPriorityGroup(g))
		}
		if err := fetchOne(ctx, cons, true, opts...); err != nil {
			return err
		}
		_, err = cons.Info(ctx)
		return err
	}
}

// fetchOne fetches a message and, with ack, acknowledges it and waits for the server's
// confirmation.
func fetchOne(ctx context.Context, cons jetstream.Consumer, ack bool, opts ...jetstream.FetchOpt) error {
	batch, err := cons.Fetch(1, append([]jetstream.FetchOpt{jetstream.FetchMaxWait(time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if ack {
			if err := m.DoubleAck(ctx); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return err
	}
	if n == 0 {
		return errors.New("no message fetched")
	}
	return nil
}

// otherDurableOp reads somebody else's durable consumer.
func otherDurableOp(stream, durable string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		cons, err := u.js.Consumer(ctx, stream, durable)
		if err != nil {
			return err
		}
		return fetchOne(ctx, cons, false)
	}
}

// tailOp reads subject from the start of the stream that holds it, as `adjoin tail --all` does.
func tailOp(subject string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		stream, err := u.js.StreamNameBySubject(ctx, subject)
		if err != nil {
			return err
		}
		cons, err := u.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject},
			DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return err
		}
		return fetchOne(ctx, cons, false)
	}
}

// orderedOp reads a stream with an ordered consumer, as the correlator's logon feed and the
// badge service's timelines do.
func orderedOp(stream string, filters ...string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		cons, err := u.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
		if err != nil {
			return err
		}
		if err := fetchOne(ctx, cons, false); err != nil {
			return err
		}
		_, err = cons.Info(ctx)
		return err
	}
}

func kv(ctx context.Context, u *natsUser, bucket string) (jetstream.KeyValue, error) {
	return u.js.KeyValue(ctx, bucket)
}

// kvPutOp writes the key test.<user>.
func kvPutOp(bucket string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		b, err := kv(ctx, u, bucket)
		if err == nil {
			_, err = b.Put(ctx, "test."+u.name, []byte("v"))
		}
		return err
	}
}

// kvCASOp creates, updates on the revision read and deletes a key, as the badge and pending
// stores do.
func kvCASOp(bucket string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		b, err := kv(ctx, u, bucket)
		if err != nil {
			return err
		}
		key := "cas." + u.name
		rev, err := b.Create(ctx, key, []byte("1"))
		if err != nil {
			return err
		}
		if rev, err = b.Update(ctx, key, []byte("2"), rev); err != nil {
			return err
		}
		return b.Delete(ctx, key, jetstream.LastRevision(rev))
	}
}

// kvGetOp reads a key; a missing key is an answer too.
func kvGetOp(bucket string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		b, err := kv(ctx, u, bucket)
		if err == nil {
			_, err = b.Get(ctx, "test.dcingest")
		}
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		return err
	}
}

// kvWatchOp loads a bucket and follows it (natsx.Follow), then lists its keys and stops.
func kvWatchOp(bucket string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		b, err := kv(ctx, u, bucket)
		if err != nil {
			return err
		}
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := natsx.Follow(wctx, b, func(jetstream.KeyValueEntry) {}); err != nil {
			return err
		}
		lister, err := b.ListKeysFiltered(ctx, ">")
		if err != nil {
			return err
		}
		for range lister.Keys() {
		}
		return nil
	}
}

func deleteStreamOp(name string) natsOp {
	return func(ctx context.Context, u *natsUser) error { return u.js.DeleteStream(ctx, name) }
}

func purgeStreamOp(name string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		s, err := u.js.Stream(ctx, name)
		if err == nil {
			err = s.Purge(ctx)
		}
		return err
	}
}

func updateStreamOp(name string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		s, err := u.js.Stream(ctx, name)
		if err != nil {
			return err
		}
		cfg := s.CachedInfo().Config
		cfg.Description += " (changed)"
		_, err = u.js.UpdateStream(ctx, cfg)
		return err
	}
}

func createStreamOp(name, subject string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		_, err := u.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}})
		return err
	}
}

func deleteConsumerOp(stream, name string) natsOp {
	return func(ctx context.Context, u *natsUser) error { return u.js.DeleteConsumer(ctx, stream, name) }
}

func subscribeOp(subject string) natsOp {
	return func(_ context.Context, u *natsUser) error {
		sub, err := u.nc.SubscribeSync(subject)
		if err != nil {
			return err
		}
		err = u.nc.Flush()
		if uerr := sub.Unsubscribe(); err == nil {
			err = uerr
		}
		return err
	}
}

// statusFactsOp reads what the status page shows: subject counts of ALERTS, the correlator's
// consumer and the oldest message it has not acknowledged.
func statusFactsOp(ctx context.Context, u *natsUser) error {
	s, err := u.js.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		return err
	}
	if _, err := s.Info(ctx, jetstream.WithSubjectFilter(natsx.SubjectIdentityAlerts+".>")); err != nil {
		return err
	}
	cons, err := s.Consumer(ctx, "correlator")
	if err != nil {
		return err
	}
	if _, err := cons.Info(ctx); err != nil {
		return err
	}
	_, err = s.GetMsg(ctx, 1)
	return err
}

func getMsgOp(stream string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		s, err := u.js.Stream(ctx, stream)
		if err == nil {
			_, err = s.GetMsg(ctx, 1)
		}
		return err
	}
}

// kvCreateOp reads key and creates it when missing, as the correlator records the number of
// partitions; a key already there is an answer too.
func kvCreateOp(bucket, key string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		b, err := kv(ctx, u, bucket)
		if err != nil {
			return err
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
		_, err = b.Create(ctx, key, []byte("8"))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		return err
	}
}

// objectOp writes an object twice (the second replaces the first) and reads it back, as a
// partition owner keeps its snapshot.
func objectOp(bucket, name string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		obs, err := u.js.ObjectStore(ctx, bucket)
		if err != nil {
			return err
		}
		for _, v := range []string{"one", "two"} {
			if _, err := obs.PutBytes(ctx, name, []byte(v)); err != nil {
				return err
			}
		}
		got, err := obs.GetBytes(ctx, name)
		if err == nil && string(got) != "two" {
			err = fmt.Errorf("object %s holds %q, want two", name, got)
		}
		return err
	}
}

// objectReadOp reads an object's info and bytes, as a directory snapshot is read; a missing
// object is an answer too.
func objectReadOp(bucket, name string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		obs, err := u.js.ObjectStore(ctx, bucket)
		if err != nil {
			return err
		}
		if _, err = obs.GetInfo(ctx, name); err == nil {
			_, err = obs.GetBytes(ctx, name)
		}
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil
		}
		return err
	}
}

// lastMsgOp reads the last message of a subject; a subject without one is an answer too.
func lastMsgOp(stream, subject string) natsOp {
	return func(ctx context.Context, u *natsUser) error {
		s, err := u.js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		_, err = s.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		return err
	}
}
