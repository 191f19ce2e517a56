package app

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// IncidentReader reads the stored state of an incident: nil, nil when none is stored.
type IncidentReader interface {
	Get(ctx context.Context, id string) (*adjoinv1.Incident, error)
}

// IncidentBatch is what one batch of CORRELATED messages does to the incidents: their states as
// the batch leaves them (each read from the store once), and which of them changed. The incident
// builder (ports) feeds it each message's alert and writes what Changed returns.
type IncidentBatch struct {
	store   IncidentReader
	state   map[string]*adjoinv1.Incident // id → state; nil: none stored
	order   []string                      // changed ids, first change first
	dirty   map[string]bool
	covered map[string]bool // alerts in an incident this batch grouped
}

// NewIncidentBatch starts a batch that reads incidents from store.
func NewIncidentBatch(store IncidentReader) *IncidentBatch {
	return &IncidentBatch{store: store, state: map[string]*adjoinv1.Incident{}, dirty: map[string]bool{}, covered: map[string]bool{}}
}

// Build brings the incident of c's alert up to date; one the window does not hold (older than
// its memory) gets the incident domain.Grouper.Outside makes. An alert already in an incident grouped
// in this batch is skipped: that grouping read a window that already held it. When more than one
// alert joined at once, two incidents met, and every incident named after one of its alerts is
// marked as merged into it. It returns the states it changed; nothing is changed when a read
// fails.
func (s *IncidentBatch) Build(ctx context.Context, g *domain.Grouper, c *adjoinv1.CorrelatedAlert) ([]*adjoinv1.Incident, error) {
	if s.covered[c.GetAlert().GetId()] {
		return nil, nil
	}
	inc := g.Group(c.GetAlert().GetId(), []string{c.GetEntityKey()})
	if inc == nil && !g.Alerts.Holds(c.GetAlert().GetId()) {
		// Older than the window's memory (or from the future): an incident of its own.
		if a, ok := domain.AlertOf(c); ok {
			inc = g.Outside(a)
		}
	}
	if inc == nil {
		return nil, nil
	}
	prev, err := s.get(ctx, inc.GetId())
	if err != nil {
		return nil, err
	}
	if prev != nil && domain.SameIncident(prev, inc) {
		s.cover(inc)
		return nil, nil
	}
	updates := []*adjoinv1.Incident{inc}
	if prev == nil || len(inc.GetAlertIds())-len(prev.GetAlertIds()) > 1 {
		for _, id := range inc.GetAlertIds() {
			other := entity.HashID("incident", id)
			if other == inc.GetId() {
				continue
			}
			o, err := s.get(ctx, other)
			if err != nil {
				return nil, err
			}
			if o != nil && o.GetMergedInto() != inc.GetId() {
				o = proto.Clone(o).(*adjoinv1.Incident)
				o.MergedInto = inc.GetId()
				updates = append(updates, o)
			}
		}
	}
	for _, u := range updates {
		s.put(u)
	}
	s.cover(inc)
	return updates, nil
}

func (s *IncidentBatch) cover(inc *adjoinv1.Incident) {
	for _, id := range inc.GetAlertIds() {
		s.covered[id] = true
	}
}

func (s *IncidentBatch) get(ctx context.Context, id string) (*adjoinv1.Incident, error) {
	if inc, ok := s.state[id]; ok {
		return inc, nil
	}
	inc, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	s.state[id] = inc
	return inc, nil
}

func (s *IncidentBatch) put(inc *adjoinv1.Incident) {
	if !s.dirty[inc.GetId()] {
		s.dirty[inc.GetId()] = true
		s.order = append(s.order, inc.GetId())
	}
	s.state[inc.GetId()] = inc
}

// Changed returns the last state of every incident the batch changed, first changed first.
func (s *IncidentBatch) Changed() []*adjoinv1.Incident {
	out := make([]*adjoinv1.Incident, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.state[id])
	}
	return out
}
