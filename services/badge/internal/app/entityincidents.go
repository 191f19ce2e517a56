package app

import (
	"fmt"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// EntityIncidents returns the incidents of the entity sel names, from idx: most recent first,
// at most limit (0: IncidentsPerEntity), and fewer when they would not fit in MaxAnswerBytes
// (always at least one). The entity is resolved as GetBadge resolves it.
func (b *Badges) EntityIncidents(sel *adjoinv1.EntitySelector, idx *Incidents, limit int32) (*adjoinv1.ListEntityIncidentsResponse, error) {
	e, err := b.Resolve(sel)
	if err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("%w: limit %d", ErrInvalidSelector, limit)
	}
	resp := &adjoinv1.ListEntityIncidentsResponse{EntityKey: e.GetKey()}
	used := 0
	for _, inc := range idx.ForEntity(e.GetKey(), int(limit)) {
		n := elementSize(inc)
		if len(resp.Incidents) > 0 && used+n > MaxAnswerBytes-answerReserve {
			break
		}
		used += n
		resp.Incidents = append(resp.Incidents, inc)
	}
	return resp, nil
}
