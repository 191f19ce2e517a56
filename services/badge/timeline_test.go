package badge_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// s1 is the day of the Shire S1 recording.
var s1 = time.Date(2020, 8, 5, 0, 0, 0, 0, time.UTC)

func at(h, m int) *timestamppb.Timestamp {
	return timestamppb.New(s1.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
}

// correlated is a CorrelatedAlert of one alert version placed on key.
func correlated(key, id string, side adjoinv1.Side, version int64, last *timestamppb.Timestamp) *adjoinv1.CorrelatedAlert {
	return &adjoinv1.CorrelatedAlert{
		Alert: &adjoinv1.Alert{Id: id, Side: side, Version: version, Severity: adjoinv1.Severity_SEVERITY_HIGH,
			Title: fmt.Sprintf("%s v%d", id, version), LastActivity: last},
		EntityKey: key, Reason: "matched by sid", CorrelatedTime: timestamppb.Now(),
	}
}

// publishCorrelated stores each alert version on the entity's CORRELATED subject, as the
// correlator does, and returns their stream sequences.
func (h *harness) publishCorrelated(t *testing.T, computer bool, cas ...*adjoinv1.CorrelatedAlert) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, ca := range cas {
		subject := natsx.CorrelatedSubject(computer, ca.GetEntityKey())
		seqs = append(seqs, h.publish(t, subject, fmt.Sprintf("%s/%s/v%d", ca.GetEntityKey(), ca.GetAlert().GetId(), ca.GetAlert().GetVersion()), ca))
	}
	return seqs
}

func TestListEntityAlerts(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)
	id, ep := adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT
	h.publishCorrelated(t, false,
		correlated(keyPgustavo, "dcsync-1", id, 1, at(6, 11)),
		// Two versions of one alert, the newer stored first: the newer wins, by version.
		correlated(keyPgustavo, "kerberoast-1", id, 2, at(9, 45)),
		correlated(keyPgustavo, "mimikatz-1", ep, 1, at(6, 13)),
		correlated(keyPgustavo, "kerberoast-1", id, 1, at(2, 30)),
		correlated(keyPgustavo, "lsass-1", ep, 1, at(5, 1)),
		correlated(keyPgustavo, "logon-1", id, 1, at(7, 0)),
		correlated(keyPgustavo, "logon-2", id, 1, at(7, 0)), // same time: by id
	)
	h.publishCorrelated(t, true, correlated(keyWS6, "covenant-1", ep, 1, at(6, 10)))
	newestFirst := []string{"kerberoast-1 v2", "logon-1 v1", "logon-2 v1", "mimikatz-1 v1", "dcsync-1 v1", "lsass-1 v1"}

	titles := func(resp *adjoinv1.ListEntityAlertsResponse) []string {
		var out []string
		for _, a := range resp.GetAlerts() {
			out = append(out, a.GetTitle())
		}
		return out
	}

	t.Run("pages of 2 until exhausted", func(t *testing.T) {
		var got []string
		token := ""
		for page := 1; ; page++ {
			resp, err := h.client.ListEntityAlerts(rpcCtx(t), &adjoinv1.ListEntityAlertsRequest{
				Selector: byQuery(`THESHIRE\pgustavo`), PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if resp.GetTotalSize() != int32(len(newestFirst)) {
				t.Errorf("page %d: total_size %d, want %d", page, resp.GetTotalSize(), len(newestFirst))
			}
			if n := len(resp.GetAlerts()); n == 0 || n > 2 {
				t.Fatalf("page %d: %d alerts, want 1 or 2", page, n)
			}
			got = append(got, titles(resp)...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
			if page > len(newestFirst) {
				t.Fatal("pages never end")
			}
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("alerts %v, want %v", got, newestFirst)
		}
	})

	tests := []struct {
		name      string
		req       *adjoinv1.ListEntityAlertsRequest
		want      []string
		wantTotal int32
		wantNext  bool
		wantErr   codes.Code
	}{
		{"default page size", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo)}, newestFirst, 6, false, codes.OK},
		{"page size above the maximum", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageSize: 100000}, newestFirst, 6, false, codes.OK},
		{"first page", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageSize: 4}, newestFirst[:4], 6, true, codes.OK},
		{"a computer's timeline", &adjoinv1.ListEntityAlertsRequest{Selector: byQuery("workstation6")}, []string{"covenant-1 v1"}, 1, false, codes.OK},
		{"no alerts", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyWardog)}, nil, 0, false, codes.OK},
		{"token past the end", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageToken: token(99)}, nil, 6, false, codes.OK},
		{"garbage token", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageToken: "garbage!"}, nil, 0, false, codes.InvalidArgument},
		{"base64 but no offset", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageToken: base64.RawURLEncoding.EncodeToString([]byte("ten"))}, nil, 0, false, codes.InvalidArgument},
		{"negative offset", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageToken: token(-2)}, nil, 0, false, codes.InvalidArgument},
		{"negative page size", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(keyPgustavo), PageSize: -1}, nil, 0, false, codes.InvalidArgument},
		{"unknown entity", &adjoinv1.ListEntityAlertsRequest{Selector: bySID(shireDomainSID + "-4242")}, nil, 0, false, codes.NotFound},
		{"malformed selector", &adjoinv1.ListEntityAlertsRequest{Selector: bySID("S-x")}, nil, 0, false, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.client.ListEntityAlerts(rpcCtx(t), tt.req)
			if got := status.Code(err); got != tt.wantErr {
				t.Fatalf("code %s (%v), want %s", got, err, tt.wantErr)
			}
			if tt.wantErr != codes.OK {
				return
			}
			if got := titles(resp); !slices.Equal(got, tt.want) {
				t.Errorf("alerts %v, want %v", got, tt.want)
			}
			if resp.GetTotalSize() != tt.wantTotal || (resp.GetNextPageToken() != "") != tt.wantNext {
				t.Errorf("total_size %d next_page_token %q, want %d and a token: %v", resp.GetTotalSize(), resp.GetNextPageToken(), tt.wantTotal, tt.wantNext)
			}
		})
	}
}

// token is a page token as the service writes them; the tests only use it to forge ones.
func token(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprint(offset)))
}
