package badge_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestBatchGetBadges: each selector gets its own result, in order; only a batch that is empty
// or larger than 500 fails as a whole.
func TestBatchGetBadges(t *testing.T) {
	t.Parallel()
	h := startBadge(t, nil)

	// want is the entity key of a badge, or the code of a BadgeError.
	type want struct {
		key  string
		code codes.Code
	}
	tests := []struct {
		name    string
		sels    []*adjoinv1.EntitySelector
		want    []want
		wantErr codes.Code
	}{
		{
			name: "mixed valid, unknown and malformed",
			sels: []*adjoinv1.EntitySelector{
				bySID(keyPgustavo),
				bySID(shireDomainSID + "-4242"),
				bySID("S-x"),
				{Selector: &adjoinv1.EntitySelector_DnsHostName{DnsHostName: "workstation6.THESHIRE.local"}},
				{},
				{Selector: &adjoinv1.EntitySelector_Upn{Upn: "frodo@theshire.local"}},
				{Selector: &adjoinv1.EntitySelector_DomainSam{DomainSam: `THESHIRE\sbeavers`}},
				{Selector: &adjoinv1.EntitySelector_Upn{Upn: "no-at-sign"}},
				bySID(keyPgustavo), // twice is fine
			},
			want: []want{
				{key: keyPgustavo}, {code: codes.NotFound}, {code: codes.InvalidArgument}, {key: keyWS6},
				{code: codes.InvalidArgument}, {code: codes.NotFound}, {key: keySbeavers}, {code: codes.InvalidArgument},
				{key: keyPgustavo},
			},
		},
		{name: "only unknown", sels: []*adjoinv1.EntitySelector{byQuery("gollum")}, want: []want{{code: codes.NotFound}}},
		{name: "500 selectors", sels: repeat(bySID(keyMordorDC), 500), want: repeatWant(want{key: keyMordorDC}, 500)},
		{name: "empty batch", sels: nil, wantErr: codes.InvalidArgument},
		{name: "501 selectors", sels: repeat(bySID(keyMordorDC), 501), wantErr: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.client.BatchGetBadges(rpcCtx(t), &adjoinv1.BatchGetBadgesRequest{Selectors: tt.sels})
			if got := status.Code(err); got != tt.wantErr {
				t.Fatalf("code %s (%v), want %s", got, err, tt.wantErr)
			}
			if tt.wantErr != codes.OK {
				return
			}
			if len(resp.GetResults()) != len(tt.want) {
				t.Fatalf("%d results, want %d", len(resp.GetResults()), len(tt.want))
			}
			for i, r := range resp.GetResults() {
				w := tt.want[i]
				switch {
				case w.key != "":
					if r.GetBadge().GetEntity().GetKey() != w.key || r.GetError() != nil {
						t.Errorf("result %d: %v, want the badge of %s", i, r, w.key)
					}
					if !r.GetBadge().GetIdentity().GetKnown() {
						t.Errorf("result %d: identity side does not know a directory entity: %v", i, r)
					}
				default:
					if r.GetBadge() != nil || r.GetError().GetCode() != int32(w.code) || r.GetError().GetMessage() == "" {
						t.Errorf("result %d: %v, want a BadgeError with code %d (%s) and a message", i, r, w.code, w.code)
					}
				}
			}
		})
	}
}

func repeat(sel *adjoinv1.EntitySelector, n int) []*adjoinv1.EntitySelector {
	out := make([]*adjoinv1.EntitySelector, n)
	for i := range out {
		out[i] = sel
	}
	return out
}

func repeatWant[W any](w W, n int) []W {
	out := make([]W, n)
	for i := range out {
		out[i] = w
	}
	return out
}
