package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Correlated reads the CORRELATED stream.
type Correlated interface {
	// Alerts returns every alert version stored on subject, oldest first.
	Alerts(ctx context.Context, subject string) ([]*adjoinv1.Alert, error)
	// Follow calls fn for each message on subjects (none: every subject) stored after cursor
	// (0: from the oldest, or only new ones with newOnly), until ctx ends or fn fails.
	Follow(ctx context.Context, subjects []string, cursor uint64, newOnly bool,
		fn func(seq uint64, subject string, c *adjoinv1.CorrelatedAlert) error) error
}

// Page sizes of ListEntityAlerts.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// ErrPageToken means a page token was not one this service gave out.
var ErrPageToken = errors.New("invalid page token")

// ErrCursor means a StreamCorrelated cursor is past the end of the stream: not one this
// service gave out, or one from a stream since recreated.
var ErrCursor = errors.New("cursor past the end of the correlated stream")

// Timeline returns one page of an entity's alerts, both sides, newest first: the latest
// version of each. A page holds at most size alerts, and fewer when they would not fit in
// MaxAnswerBytes (always at least one), with next_page_token pointing at the rest.
func (b *Badges) Timeline(ctx context.Context, src Correlated, sel *adjoinv1.EntitySelector, size int32, token string) (*adjoinv1.ListEntityAlertsResponse, error) {
	e, err := b.Resolve(sel)
	if err != nil {
		return nil, err
	}
	switch {
	case size < 0:
		return nil, fmt.Errorf("%w: page_size %d", ErrInvalidSelector, size)
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	offset := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err == nil {
			offset, err = strconv.Atoi(string(raw))
		}
		if err != nil || offset < 0 {
			return nil, fmt.Errorf("%w: %q", ErrPageToken, token)
		}
	}
	versions, err := src.Alerts(ctx, natsx.CorrelatedSubject(e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, e.GetKey()))
	if err != nil {
		return nil, err
	}
	latest := map[string]*adjoinv1.Alert{}
	for _, a := range versions {
		if cur, ok := latest[a.GetId()]; !ok || a.GetVersion() >= cur.GetVersion() {
			latest[a.GetId()] = a
		}
	}
	all := make([]*adjoinv1.Alert, 0, len(latest))
	for _, a := range latest {
		all = append(all, a)
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := all[i].GetLastActivity().AsTime(), all[j].GetLastActivity().AsTime()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return all[i].GetId() < all[j].GetId()
	})
	resp := &adjoinv1.ListEntityAlertsResponse{TotalSize: int32(len(all))}
	if offset >= len(all) {
		return resp, nil
	}
	end, used := offset, 0
	for end < len(all) && end-offset < int(size) {
		n := elementSize(all[end])
		if end > offset && used+n > MaxAnswerBytes-answerReserve {
			break
		}
		used += n
		end++
	}
	resp.Alerts = all[offset:end]
	if end < len(all) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return resp, nil
}

// CorrelatedSubjects returns the CORRELATED subjects of the entities sels name; none selects
// every correlated alert; at most MaxStreamSelectors.
func (b *Badges) CorrelatedSubjects(sels []*adjoinv1.EntitySelector) ([]string, error) {
	if err := CheckSelectors(len(sels)); err != nil {
		return nil, err
	}
	var subjects []string
	seen := make(map[string]struct{}, len(sels)) // a set, not a scan per selector: up to 5,000 of them
	for _, sel := range sels {
		e, err := b.Resolve(sel)
		if err != nil {
			return nil, err
		}
		// Once each: two selectors of one entity (its SID and its UPN) would be overlapping
		// filters, which the NATS server refuses.
		subject := natsx.CorrelatedSubject(e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, e.GetKey())
		if _, dup := seen[subject]; !dup {
			seen[subject] = struct{}{}
			subjects = append(subjects, subject)
		}
	}
	return subjects, nil
}
