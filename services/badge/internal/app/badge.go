// Package app is the badge service's use case: build an entity's badge from the directory,
// the correlator's counts, the endpoint side's knowledge and the integration toggles.
package app

import (
	"context"
	"errors"

	"github.com/adjoin/adjoin/pkg/counts"
	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ErrNotFound means the directory does not know the entity.
var ErrNotFound = errors.New("entity not found in the directory")

// ErrInvalidSelector means the selector is empty or malformed.
var ErrInvalidSelector = directory.ErrInvalidSelector

// Store reads what the other services wrote. Missing records are not errors: they return
// (nil, false, nil).
type Store interface {
	Counts(ctx context.Context, key string) (*adjoinv1.EntityCounts, bool, error)
	Device(ctx context.Context, key string) (*adjoinv1.DeviceRecord, bool, error)
	// IntegrationEnabled reports a side's toggle; absent means on.
	IntegrationEnabled(ctx context.Context, side adjoinv1.Side) (bool, error)
}

// Badges answers badge queries.
type Badges struct {
	Index *directory.Index
	Store Store
	// Links are the deep link templates per side (see Link); empty leaves links out.
	Links Links
	// Answers, when set, serves Get and Answer from answers built ahead (see NewAnswers);
	// nil builds every answer with Of.
	Answers *Answers
}

// Get returns the badge of the entity sel names. It may be shared: never modify it.
func (b *Badges) Get(ctx context.Context, sel *adjoinv1.EntitySelector) (*adjoinv1.Badge, error) {
	resp, err := b.Answer(ctx, sel)
	return resp.GetBadge(), err
}

// Answer returns GetBadge's answer for the entity sel names. It may be shared: never modify it.
func (b *Badges) Answer(ctx context.Context, sel *adjoinv1.EntitySelector) (*adjoinv1.GetBadgeResponse, error) {
	if b.Answers != nil {
		// Only the key is needed to find a built answer: the entity is built on a miss.
		m, err := b.Index.FindKey(sel)
		if err != nil {
			return nil, err
		}
		if m.Key == "" {
			return nil, notFound(m)
		}
		return b.Answers.ForKey(ctx, m.Key)
	}
	e, err := b.Resolve(sel)
	if err != nil {
		return nil, err
	}
	badge, err := b.Of(ctx, e)
	if err != nil {
		return nil, err
	}
	return &adjoinv1.GetBadgeResponse{Badge: badge}, nil
}

// Of returns the badge of a directory entity.
func (b *Badges) Of(ctx context.Context, e *adjoinv1.Entity) (*adjoinv1.Badge, error) {
	ec, _, err := b.Store.Counts(ctx, e.GetKey())
	if err != nil {
		return nil, err
	}
	idOn, err := b.Store.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_IDENTITY)
	if err != nil {
		return nil, err
	}
	epOn, err := b.Store.IntegrationEnabled(ctx, adjoinv1.Side_SIDE_ENDPOINT)
	if err != nil {
		return nil, err
	}
	identity := counts.Summarise(ec, adjoinv1.Side_SIDE_IDENTITY)
	// The identity side knows every directory entity: the directory is its own.
	identity.Known, identity.GreyedReason = true, adjoinv1.GreyedReason_GREYED_REASON_NONE
	endpoint := counts.Summarise(ec, adjoinv1.Side_SIDE_ENDPOINT)
	var device *adjoinv1.DeviceRecord
	endpoint.Known, endpoint.GreyedReason, device, err = b.endpointKnows(ctx, e)
	if err != nil {
		return nil, err
	}
	identity.Link = b.Links.For(adjoinv1.Side_SIDE_IDENTITY, e, device)
	endpoint.Link = b.Links.For(adjoinv1.Side_SIDE_ENDPOINT, e, device)
	// An endpoint alert on the entity is the endpoint side seeing it, even when no device record
	// was written (a product alert about a host that sends no other signal): never greyed as
	// unseen while it holds alerts.
	if endpoint.GreyedReason == adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN && endpoint.Total > 0 {
		endpoint.Known, endpoint.GreyedReason = true, adjoinv1.GreyedReason_GREYED_REASON_NONE
	}
	enabled := idOn && epOn
	if !enabled {
		for _, s := range []*adjoinv1.SideBadge{identity, endpoint} {
			s.Known, s.GreyedReason = false, adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF
		}
	}
	return &adjoinv1.Badge{Entity: e, Identity: identity, Endpoint: endpoint, IntegrationEnabled: enabled}, nil
}

// endpointKnows looks for a device record under the entity key, then under the names it may
// have been recorded by before the directory knew the entity.
func (b *Badges) endpointKnows(ctx context.Context, e *adjoinv1.Entity) (bool, adjoinv1.GreyedReason, *adjoinv1.DeviceRecord, error) {
	for _, key := range append([]string{e.GetKey()}, entity.NameKeys(e)...) {
		rec, ok, err := b.Store.Device(ctx, key)
		if err != nil {
			return false, 0, nil, err
		}
		if !ok {
			continue
		}
		switch rec.GetOnboardingStatus() {
		case "insufficient_info", "unsupported", "can_be_onboarded":
			return false, adjoinv1.GreyedReason_GREYED_REASON_NOT_ONBOARDED, rec, nil
		}
		return true, adjoinv1.GreyedReason_GREYED_REASON_NONE, rec, nil
	}
	return false, adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN, nil, nil
}
