package badge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// maxAnswer is what a gRPC client accepts by default, and so the most an answer may be.
const maxAnswer = 4 << 20

// largeUser is a directory user in 250 groups with long names (about 20 KB): large AD
// deployments have such accounts, and a badge carries its entity.
func largeUser(n int) *adjoinv1.Entity {
	e := shireUser(fmt.Sprintf("%s-%d", shireDomainSID, 5000+n), fmt.Sprintf("user%d", n), "", false)
	for g := range 250 {
		e.MemberOf = append(e.MemberOf, fmt.Sprintf("CN=Application access group %04d for the finance and accounting department,OU=Groups,DC=theshire,DC=local", g))
	}
	return e
}

// TestBatchGetBadgesAnswerSize: 500 selectors (the most a batch takes) of entities with large
// badges would make a 10 MB answer, which a client would refuse after the service built and
// sent it. The answer stays under 4 MiB: the badges that fit, then RESOURCE_EXHAUSTED results
// for the others, which come in a second batch.
func TestBatchGetBadgesAnswerSize(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	var sels []*adjoinv1.EntitySelector
	for n := range 500 {
		e := largeUser(n)
		h.put(t, h.directory, e.GetKey(), e)
		sels = append(sels, bySID(e.GetKey()))
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		_, err := h.get(t, sels[len(sels)-1])
		return err
	})

	got := map[string]bool{}
	ask := sels
	for round := 1; len(ask) > 0; round++ {
		if round > 5 {
			t.Fatalf("%d of 500 badges after 4 rounds", len(got))
		}
		resp, err := h.client.BatchGetBadges(rpcCtx(t), &adjoinv1.BatchGetBadgesRequest{Selectors: ask})
		if err != nil {
			t.Fatalf("round %d, %d selectors: %v", round, len(ask), err)
		}
		if size := proto.Size(resp); size > maxAnswer {
			t.Errorf("round %d: answer of %d bytes, above %d", round, size, maxAnswer)
		}
		if len(resp.GetResults()) != len(ask) {
			t.Fatalf("round %d: %d results for %d selectors", round, len(resp.GetResults()), len(ask))
		}
		var again []*adjoinv1.EntitySelector
		for i, r := range resp.GetResults() {
			switch {
			case r.GetBadge() != nil:
				if key := r.GetBadge().GetEntity().GetKey(); key != ask[i].GetSid() || len(r.GetBadge().GetEntity().GetMemberOf()) != 250 {
					t.Fatalf("round %d result %d: badge of %s with %d groups, want %s's with 250", round, i, key,
						len(r.GetBadge().GetEntity().GetMemberOf()), ask[i].GetSid())
				}
				got[r.GetBadge().GetEntity().GetKey()] = true
			case r.GetError().GetCode() == int32(codes.ResourceExhausted) && strings.Contains(r.GetError().GetMessage(), "4 MiB"):
				again = append(again, ask[i])
			default:
				t.Fatalf("round %d result %d: %v", round, i, r)
			}
		}
		if len(again) == len(ask) {
			t.Fatalf("round %d: no badge fitted", round)
		}
		if round == 1 && len(again) == 0 {
			t.Fatal("all 500 large badges in one answer: the test no longer exercises the bound")
		}
		ask = again
	}
	if len(got) != 500 {
		t.Errorf("%d distinct badges, want 500", len(got))
	}
}

// TestListEntityAlertsAnswerSize: a page of large alerts holds fewer than page_size, so that
// it stays under 4 MiB; the pages that follow hold the rest, each alert once.
func TestListEntityAlertsAnswerSize(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	const alerts = 60 // of about 100 KB each: 6 MB in all
	for n := range alerts {
		ca := correlated(keyPgustavo, fmt.Sprintf("large-%02d", n), adjoinv1.Side_SIDE_IDENTITY, 1, at(1, n))
		ca.Alert.Description = strings.Repeat("evidence ", 100<<10/9)
		h.publish(t, natsx.CorrelatedSubject(false, keyPgustavo), ca.GetAlert().GetId(), ca)
	}
	seen := map[string]bool{}
	token := ""
	for page := 1; ; page++ {
		if page > alerts {
			t.Fatal("pages never end")
		}
		resp, err := h.client.ListEntityAlerts(rpcCtx(t), &adjoinv1.ListEntityAlertsRequest{
			Selector: bySID(keyPgustavo), PageSize: 500, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if size := proto.Size(resp); size > maxAnswer {
			t.Errorf("page %d: %d bytes, above %d", page, size, maxAnswer)
		}
		if page == 1 && len(resp.GetAlerts()) == alerts {
			t.Fatal("all 6 MB on one page: the test no longer exercises the bound")
		}
		if resp.GetTotalSize() != alerts || len(resp.GetAlerts()) == 0 {
			t.Fatalf("page %d: %d alerts, total_size %d", page, len(resp.GetAlerts()), resp.GetTotalSize())
		}
		for _, a := range resp.GetAlerts() {
			if seen[a.GetId()] {
				t.Errorf("page %d: %s again", page, a.GetId())
			}
			seen[a.GetId()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != alerts {
		t.Errorf("%d distinct alerts over the pages, want %d", len(seen), alerts)
	}
}
