package ports

import (
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// WatchBadges implements adjoin.v1.BadgeService: the current badges, then each change. A
// badge is sent again only when it differs from the one last sent.
func (s *GRPCServer) WatchBadges(req *adjoinv1.WatchBadgesRequest, stream adjoinv1.BadgeService_WatchBadgesServer) error {
	if err := app.CheckSelectors(len(req.GetSelectors())); err != nil {
		return s.toStatus(err)
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()
	changes, stop := s.View.Subscribe() // before the initial state, so no change falls between
	defer stop()
	all := len(req.GetSelectors()) == 0
	keys := map[string]bool{}
	for _, sel := range req.GetSelectors() {
		e, err := s.Badges.Resolve(sel)
		if err != nil {
			return s.toStatus(err)
		}
		keys[e.GetKey()] = true
	}
	selected := func() []string {
		if !all {
			out := make([]string, 0, len(keys))
			for k := range keys {
				out = append(out, k)
			}
			return out
		}
		return s.Badges.Index.Keys()
	}
	sent := map[string]*adjoinv1.Badge{}
	send := func(key string, initial bool) error {
		e, ok := s.Badges.Index.Get(key)
		if !ok {
			return nil
		}
		b, err := s.Badges.Of(ctx, e)
		if err != nil {
			return s.toStatus(err)
		}
		if prev, ok := sent[key]; ok && proto.Equal(prev, b) {
			return nil
		}
		sent[key] = b
		return stream.Send(&adjoinv1.WatchBadgesResponse{Badge: b, Initial: initial})
	}
	for _, k := range selected() {
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
			for _, k := range s.affected(key, all, keys, selected) {
				if err := send(k, false); err != nil {
					return err
				}
			}
		}
	}
}

// affected maps a changed key (entity key, device name key, or AllKeys) to the watched
// entities whose badge it may change.
func (s *GRPCServer) affected(key string, all bool, keys map[string]bool, selected func() []string) []string {
	if key == app.AllKeys {
		return selected()
	}
	if _, ok := s.Badges.Index.Get(key); ok {
		if all || keys[key] {
			return []string{key}
		}
		return nil
	}
	// A device recorded under a name before the directory knew it.
	var out []string
	for _, k := range selected() {
		e, ok := s.Badges.Index.Get(k)
		if !ok {
			continue
		}
		for _, nk := range entity.NameKeys(e) {
			if nk == key {
				out = append(out, k)
			}
		}
	}
	return out
}
