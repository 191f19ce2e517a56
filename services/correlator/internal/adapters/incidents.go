package adapters

import (
	"context"
	"errors"
	"fmt"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Incidents keeps each incident's current state in the adjoin_incidents bucket and publishes
// every change on incidents.<id>.
type Incidents struct {
	KV  jetstream.KeyValue
	JS  jetstream.JetStream
	Now func() time.Time
}

// Save stores inc and publishes it when it differs from the stored state (updated time aside).
// It returns the stored state before, if any.
func (s Incidents) Save(ctx context.Context, inc *adjoinv1.Incident) (prev *adjoinv1.Incident, changed bool, err error) {
	prev, err = s.Get(ctx, inc.GetId())
	if err != nil {
		return nil, false, err
	}
	if prev != nil && sameIncident(prev, inc) {
		return prev, false, nil
	}
	return prev, true, s.store(ctx, inc)
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

// MarkMerged records that incident id now belongs to incident into, if id exists and does
// not say so already.
func (s Incidents) MarkMerged(ctx context.Context, id, into string) error {
	inc, err := s.Get(ctx, id)
	if err != nil || inc == nil || inc.GetMergedInto() == into || id == into {
		return err
	}
	inc.MergedInto = into
	return s.store(ctx, inc)
}

func (s Incidents) store(ctx context.Context, inc *adjoinv1.Incident) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	inc = proto.Clone(inc).(*adjoinv1.Incident)
	content, err := proto.MarshalOptions{Deterministic: true}.Marshal(inc)
	if err != nil {
		return err
	}
	inc.UpdatedTime = timestamppb.New(now())
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(inc)
	if err != nil {
		return err
	}
	if _, err := s.KV.Put(ctx, inc.GetId(), data); err != nil {
		return fmt.Errorf("incident %s: %w", inc.GetId(), err)
	}
	// The id hashes the content without the time, so re-saving the same state is deduplicated.
	_, err = natsx.Publish(ctx, s.JS, natsx.SubjectIncidents+"."+inc.GetId(), natsx.HashID("incident", string(content)), inc)
	return err
}

func sameIncident(a, b *adjoinv1.Incident) bool {
	a, b = proto.Clone(a).(*adjoinv1.Incident), proto.Clone(b).(*adjoinv1.Incident)
	a.UpdatedTime, b.UpdatedTime = nil, nil
	return proto.Equal(a, b)
}
