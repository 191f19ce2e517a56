package app_test

import (
	"errors"
	"fmt"
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestCorrelatedSubjectsAtTheLimit asks for MaxStreamSelectors selectors, each entity named
// twice (its SID and its sAMAccountName), and gets one subject per entity in the order asked;
// one selector more is refused with ErrBatchSize.
func TestCorrelatedSubjectsAtTheLimit(t *testing.T) {
	t.Parallel()
	const users = app.MaxStreamSelectors / 2
	f := newAnswersFixture(t, users, 0)
	var sels []*adjoinv1.EntitySelector
	for i := range users {
		sels = append(sels,
			&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: userKey(i)}},
			&adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: fmt.Sprintf(`CORP\user%d`, i)}})
	}
	got, err := f.badges.CorrelatedSubjects(sels)
	if err != nil {
		t.Fatalf("CorrelatedSubjects(%d selectors) = %v", len(sels), err)
	}
	if len(got) != users {
		t.Fatalf("%d subjects for %d entities named twice each", len(got), users)
	}
	for i, s := range got {
		if want := natsx.CorrelatedSubject(false, userKey(i)); s != want {
			t.Fatalf("subject %d = %s, want %s", i, s, want)
		}
	}
	sels = append(sels, sels[0])
	if _, err := f.badges.CorrelatedSubjects(sels); !errors.Is(err, app.ErrBatchSize) {
		t.Fatalf("CorrelatedSubjects(%d selectors) = %v, want ErrBatchSize", len(sels), err)
	}
}
