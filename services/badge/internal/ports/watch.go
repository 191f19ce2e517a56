package ports

import (
	"hash/maphash"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// WatchBadges implements adjoin.v1.BadgeService: the current badges, then each change. A
// badge is sent again only when it differs from the one last sent.
func (s *GRPCServer) WatchBadges(req *adjoinv1.WatchBadgesRequest, stream adjoinv1.BadgeService_WatchBadgesServer) error {
	if err := app.CheckSelectors(len(req.GetSelectors())); err != nil {
		return s.toStatus(err)
	}
	if len(req.GetSelectors()) == 0 {
		release, err := s.takeWatchOfAll()
		if err != nil {
			return err
		}
		defer release()
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	changes, stop := s.View.Subscribe() // before the initial state, so no change falls between
	defer stop()
	var keys []string
	for _, sel := range req.GetSelectors() {
		e, err := s.Badges.Resolve(sel)
		if err != nil {
			return s.toStatus(err)
		}
		keys = append(keys, e.GetKey())
	}
	watched := newWatchSet(s.Badges, keys, len(req.GetSelectors()) == 0)
	// What was last sent of each badge, as a hash of its encoding rather than the badge: a
	// watch of every entity would otherwise hold a copy of every badge in the directory (about
	// 1 KB each, 1 GB at a million entities); a hash and its key are under 100 B.
	sent := map[string]uint64{}
	seed := maphash.MakeSeed()
	send := func(key string, initial bool) error {
		e, ok := s.Badges.Index.Get(key)
		watched.noted(key, e)
		if !ok {
			return nil
		}
		b, err := s.Badges.Of(ctx, e)
		if err != nil {
			return s.toStatus(err)
		}
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
		if err != nil {
			return s.toStatus(err)
		}
		h := maphash.Bytes(seed, enc)
		if prev, ok := sent[key]; ok && prev == h {
			return nil
		}
		sent[key] = h
		return stream.Send(&adjoinv1.WatchBadgesResponse{Badge: b, Initial: initial})
	}
	for _, k := range watched.selected() {
		if err := send(k, true); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			if stream.Context().Err() == nil {
				return errStopping
			}
			return nil
		case key, ok := <-changes:
			if !ok {
				return nil
			}
			for _, k := range watched.affected(key) {
				if err := send(k, false); err != nil {
					return err
				}
			}
			if len(changes) > 0 && watched.unsureLen() < maxUnsure {
				continue // the walk waits until the changes of a burst are handled
			}
			for _, k := range watched.walk() {
				if err := send(k, false); err != nil {
					return err
				}
			}
		}
	}
}

// DefaultMaxWatchesOfAll bounds the watches of every entity when GRPCServer.MaxWatchesOfAll is
// 0: each holds a key and a hash per directory entity (about 100 MB at a million) and sends
// the whole directory when it starts and whenever it falls behind.
const DefaultMaxWatchesOfAll = 4

// takeWatchOfAll takes one of the places of watches of every entity, or refuses with
// RESOURCE_EXHAUSTED when all are taken; release gives it back.
func (s *GRPCServer) takeWatchOfAll() (release func(), err error) {
	most := s.MaxWatchesOfAll
	if most <= 0 {
		most = DefaultMaxWatchesOfAll
	}
	if s.watchesOfAll.Add(1) > int64(most) {
		s.watchesOfAll.Add(-1)
		return nil, status.Errorf(codes.ResourceExhausted,
			"%d watches of every entity are open, the most allowed (max-watches-of-all): each holds the state of the whole directory; watch selected entities instead, or close one first", most)
	}
	return func() { s.watchesOfAll.Add(-1) }, nil
}
