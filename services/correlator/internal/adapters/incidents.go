package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Incidents keeps each incident's current state in the adjoin_incidents bucket and publishes
// every change on incidents.<id>.
type Incidents struct {
	KV  jetstream.KeyValue
	JS  jetstream.JetStream
	Now func() time.Time
}

// Get returns the stored incident, or nil.
func (s Incidents) Get(ctx context.Context, id string) (*adjoinv1.Incident, error) {
	e, err := s.KV.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	var inc adjoinv1.Incident
	if err := natsx.Decode(nil, e.Value(), &inc); err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	return &inc, nil
}

// Write stores every incident in the bucket and publishes it on incidents.<id>, in order and
// without waiting between them, and returns once JetStream acknowledged all of them. The
// publish id hashes the content without the time, so writing the same state again is
// deduplicated on INCIDENTS.
func (s Incidents) Write(ctx context.Context, incs []*adjoinv1.Incident) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	batch := natsx.NewBatch(s.JS)
	for _, inc := range incs {
		content, err := proto.MarshalOptions{Deterministic: true}.Marshal(inc)
		if err != nil {
			return err
		}
		stamped := proto.Clone(inc).(*adjoinv1.Incident)
		stamped.UpdatedTime = timestamppb.New(now())
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(stamped)
		if err != nil {
			return err
		}
		// A put on the bucket is a publish on its subject; published here, it is pipelined with
		// the rest instead of waiting for each acknowledgement in turn.
		put := nats.NewMsg("$KV." + s.KV.Bucket() + "." + inc.GetId())
		put.Data = data
		if err := batch.Add(put); err != nil {
			return fmt.Errorf("incident %s: %w", inc.GetId(), err)
		}
		msg, err := natsx.NewMsg(natsx.SubjectIncidents+"."+inc.GetId(), entity.HashID("incident", string(content)), stamped)
		if err == nil {
			err = batch.Add(msg)
		}
		if err != nil {
			return fmt.Errorf("incident %s: %w", inc.GetId(), err)
		}
	}
	_, err := batch.Wait(ctx)
	return err
}
