package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/directory"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// answersFixture is a directory of n users, a view, and Badges serving from Answers that
// hear of every change the way badge.Run wires them.
type answersFixture struct {
	ix      *directory.Index
	view    *app.View
	badges  *app.Badges
	answers *app.Answers
}

func newAnswersFixture(t testing.TB, n, max int) *answersFixture {
	t.Helper()
	f := &answersFixture{ix: directory.NewIndex(), view: app.NewView()}
	f.badges = &app.Badges{Index: f.ix, Store: f.view, Links: app.Links{
		Override: func(side adjoinv1.Side) (string, bool) { return f.view.Config(app.LinkKey(side)) },
	}}
	f.answers = app.NewAnswers(f.badges, max)
	f.badges.Answers = f.answers
	f.view.OnChange = f.answers.Changed
	for i := range n {
		f.putUser(i, fmt.Sprintf("user%d", i))
	}
	return f
}

func userKey(i int) string { return fmt.Sprintf("S-1-5-21-1-2-3-%d", 2000+i) }

func (f *answersFixture) putUser(i int, sam string) *adjoinv1.Entity {
	e := &adjoinv1.Entity{Key: userKey(i), Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: userKey(i),
		SamAccountName: sam, NetbiosDomain: "CORP"}
	f.ix.Put(e)
	f.view.Changed(e.GetKey()) // what the index's OnChange does in badge.Run
	return e
}

func countsOf(key string, alerts int) *adjoinv1.EntityCounts {
	ec := &adjoinv1.EntityCounts{EntityKey: key}
	for a := range alerts {
		ec.Alerts = append(ec.Alerts, &adjoinv1.CountedAlert{AlertId: fmt.Sprint(key, "-", a),
			Side: adjoinv1.Side_SIDE_ENDPOINT, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW})
	}
	return ec
}

// check asks for user i's answer and compares it with the one Of builds from the same state.
func (f *answersFixture) check(t *testing.T, i int) *adjoinv1.GetBadgeResponse {
	t.Helper()
	ctx := context.Background()
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(i)}}
	got, err := f.badges.Answer(ctx, sel)
	if err != nil {
		t.Fatalf("Answer(user %d): %v", i, err)
	}
	e, _ := f.ix.Get(userKey(i))
	want, err := f.badges.Of(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetBadge(), want) {
		t.Fatalf("user %d answer\n%v\nwant (built now)\n%v", i, got.GetBadge(), want)
	}
	return got
}

// TestAnswersFollowChanges: after each kind of change, the served answer is the one Of builds
// now, and an answer not concerned by the change is still served from the cache.
func TestAnswersFollowChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *answersFixture)
		// rebuilt: user 0's answer is a new message (false: the cached one is still served).
		rebuilt bool
	}{
		{"counts of another entity", func(f *answersFixture) { f.view.SetCounts(userKey(1), countsOf(userKey(1), 3)) }, false},
		{"counts written", func(f *answersFixture) { f.view.SetCounts(userKey(0), countsOf(userKey(0), 2)) }, true},
		{"counts removed", func(f *answersFixture) { f.view.SetCounts(userKey(0), nil) }, true},
		{"device under the key", func(f *answersFixture) {
			f.view.SetDevice(userKey(0), &adjoinv1.DeviceRecord{Key: userKey(0), OnboardingStatus: "onboarded"})
		}, true},
		{"device under a name key", func(f *answersFixture) {
			e, _ := f.ix.Get(userKey(0))
			f.view.SetDevice(entity.NameKeys(e)[0], &adjoinv1.DeviceRecord{OnboardingStatus: "can_be_onboarded"})
		}, true},
		{"device under another entity's name key", func(f *answersFixture) {
			e, _ := f.ix.Get(userKey(1))
			f.view.SetDevice(entity.NameKeys(e)[0], &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		}, false},
		{"toggle off", func(f *answersFixture) { f.view.SetConfig(app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "off", false) }, true},
		{"link template", func(f *answersFixture) {
			f.view.SetConfig(app.LinkKey(adjoinv1.Side_SIDE_IDENTITY), "https://itdr.example/{sid}", false)
		}, true},
		{"directory entry renamed", func(f *answersFixture) { f.putUser(0, "renamed") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAnswersFixture(t, 3, 0)
			for i := range 3 {
				f.check(t, i)
			}
			before := f.check(t, 0)
			tt.change(f)
			after := f.check(t, 0)
			if rebuilt := after != before; rebuilt != tt.rebuilt {
				t.Errorf("answer rebuilt %v, want %v", rebuilt, tt.rebuilt)
			}
			if again := f.check(t, 0); again != after {
				t.Error("answer built after the change is not the one served next")
			}
			for i := range 3 {
				f.check(t, i)
			}
		})
	}
}

// TestAnswersDeletedEntity: an entity gone from the directory is not found, cached or not.
func TestAnswersDeletedEntity(t *testing.T) {
	f := newAnswersFixture(t, 2, 0)
	f.check(t, 0)
	f.ix.Delete(userKey(0))
	f.view.Changed(userKey(0))
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(0)}}
	if _, err := f.badges.Answer(context.Background(), sel); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("Answer of a deleted entity: %v, want ErrNotFound", err)
	}
	if n := f.answers.Len(); n != 0 {
		t.Errorf("%d answers cached after the only cached entity was deleted, want 0", n)
	}
}

// TestAnswersBound: however many entities are asked for, at most max answers are kept, and
// each answer served is still the one Of builds.
func TestAnswersBound(t *testing.T) {
	tests := []struct{ entities, max int }{{10, 1}, {10, 3}, {100, 64}, {5, 64}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d entities, max %d", tt.entities, tt.max), func(t *testing.T) {
			f := newAnswersFixture(t, tt.entities, tt.max)
			for round := range 3 {
				for i := range tt.entities {
					if round == 1 && i%3 == 0 {
						f.view.SetCounts(userKey(i), countsOf(userKey(i), i%4))
					}
					f.check(t, i)
					f.check(t, 0) // one hot entity
				}
			}
			if n, want := f.answers.Len(), min(tt.entities, tt.max); n != want {
				t.Errorf("%d answers cached, want %d", n, want)
			}
		})
	}
}

// changingStore is a View that, while an answer is being built for key, lets a change to that
// key land (as a watcher would at that moment).
type changingStore struct {
	*app.View
	key    string
	change func()
	once   sync.Once
}

func (s *changingStore) Counts(ctx context.Context, key string) (*adjoinv1.EntityCounts, bool, error) {
	ec, ok, err := s.View.Counts(ctx, key)
	if key == s.key {
		s.once.Do(s.change)
	}
	return ec, ok, err
}

// TestAnswersBuiltAcrossAChange: an answer built while a change it depends on lands is served
// to its caller but not kept, so the next call sees the change.
func TestAnswersBuiltAcrossAChange(t *testing.T) {
	f := newAnswersFixture(t, 1, 0)
	store := &changingStore{View: f.view, key: userKey(0)}
	store.change = func() { f.view.SetCounts(userKey(0), countsOf(userKey(0), 1)) }
	f.badges.Store = store
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(0)}}
	first, err := f.badges.Answer(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if n := first.GetBadge().GetEndpoint().GetTotal(); n != 0 {
		t.Fatalf("first answer counts %d endpoint alerts, want 0 (built before the change)", n)
	}
	if n := f.check(t, 0).GetBadge().GetEndpoint().GetTotal(); n != 1 {
		t.Errorf("answer after the change counts %d endpoint alerts, want 1", n)
	}
}

// TestAnswersErrorsNotKept: a failed build is reported and not cached.
func TestAnswersErrorsNotKept(t *testing.T) {
	ix := directory.NewIndex()
	ix.Put(&adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo", NetbiosDomain: "THESHIRE"})
	errStore := errors.New("kv unavailable")
	b := &app.Badges{Index: ix, Store: fakeStore{failOn: "device", err: errStore}}
	b.Answers = app.NewAnswers(b, 0)
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: keyPgustavo}}
	if _, err := b.Answer(context.Background(), sel); !errors.Is(err, errStore) {
		t.Fatalf("Answer: %v, want %v", err, errStore)
	}
	b.Store = fakeStore{}
	if _, err := b.Answer(context.Background(), sel); err != nil {
		t.Fatalf("Answer once the store reads again: %v", err)
	}
}

// TestAnswersConcurrent: answers asked for while every kind of change lands, under -race;
// once changes stop, every answer served is the one Of builds.
func TestAnswersConcurrent(t *testing.T) {
	const users = 20
	f := newAnswersFixture(t, users, 8)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(i % users)}}
				if _, err := f.badges.Answer(ctx, sel); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for n := range 2000 {
		i := n % users
		switch n % 5 {
		case 0, 1:
			f.view.SetCounts(userKey(i), countsOf(userKey(i), n%7))
		case 2:
			e, _ := f.ix.Get(userKey(i))
			f.view.SetDevice(entity.NameKeys(e)[0], &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded"})
		case 3:
			f.putUser(i, fmt.Sprintf("user%d-%d", i, n))
		case 4:
			if n%100 == 4 {
				f.view.SetConfig(app.ToggleKey(adjoinv1.Side_SIDE_IDENTITY), fmt.Sprint(n%200 == 4), false)
			}
		}
	}
	close(stop)
	wg.Wait()
	for i := range users {
		f.check(t, i)
	}
}

// BenchmarkAnswer is the app's share of a GetBadge by SID, from built answers and built on
// every call (Answers nil), over 1,000 users; what is left when cached is resolving the selector.
func BenchmarkAnswer(b *testing.B) {
	const users = 1000
	f := newAnswersFixture(b, users, 0)
	for i := range users {
		f.view.SetCounts(userKey(i), countsOf(userKey(i), 1+i%5))
	}
	sels := make([]*adjoinv1.EntitySelector, users)
	for i := range sels {
		sels[i] = &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(i)}}
	}
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			f.badges.Answers = nil
			if cached {
				f.badges.Answers = f.answers
			}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := f.badges.Answer(ctx, sels[i%users]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAnswersByteBound: answers of entities with large memberships are kept within the byte
// budget (max*2 KiB, at least 1 MiB), not max of them; one larger than an eighth of the budget is
// served but not kept. Every answer served is the one Of builds.
func TestAnswersByteBound(t *testing.T) {
	const n, max, budget = 64, 64, 1 << 20
	f := newAnswersFixture(t, 0, max)
	big := func(i, groups int) {
		var member []string
		for g := range groups {
			member = append(member, fmt.Sprintf("CN=group-%d-%d-%s,OU=Groups,DC=corp,DC=example", i, g, strings.Repeat("x", 40)))
		}
		e := &adjoinv1.Entity{Key: userKey(i), Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: userKey(i),
			SamAccountName: fmt.Sprintf("user%d", i), NetbiosDomain: "CORP", MemberOf: member}
		if err := f.ix.Put(e); err != nil {
			t.Fatal(err)
		}
		f.view.Changed(e.GetKey())
	}
	for i := range n {
		big(i, 600) // some 64 KiB an answer
	}
	for round := range 2 {
		for i := range n {
			if got := f.check(t, i); round == 0 && i == 0 && proto.Size(got) < 48<<10 {
				t.Fatalf("answer of %d bytes, the test wants large ones", proto.Size(got))
			}
		}
	}
	if b, l := f.answers.Bytes(), f.answers.Len(); b > budget || l >= max || l == 0 {
		t.Errorf("%d answers of %d bytes cached, want some within %d bytes", l, b, budget)
	}
	big(n, 2000) // some 200 KiB, over an eighth of the budget
	f.answers.Changed(app.AllKeys)
	f.check(t, n)
	if l := f.answers.Len(); l != 0 {
		t.Errorf("%d answers cached after an answer over an eighth of the budget, want 0", l)
	}
}
