package badge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/authn"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// changedIs checks who last set a side's toggle and that it was set within [from, to]; by ""
// wants no author and no time (unknown).
func changedIs(s *adjoinv1.SideStatus, enabled bool, by string, from, to time.Time) error {
	at := s.GetChangedAt()
	switch {
	case s.GetEnabled() != enabled || s.GetChangedBy() != by:
		return fmt.Errorf("%v enabled=%v changed by %q, want enabled=%v by %q", s.GetSide(), s.GetEnabled(), s.GetChangedBy(), enabled, by)
	case by == "" && at != nil:
		return fmt.Errorf("%v changed at %v with no author, want no time", s.GetSide(), at.AsTime())
	case by != "" && (at == nil || at.AsTime().Before(from.Truncate(time.Millisecond)) || at.AsTime().After(to)):
		return fmt.Errorf("%v changed at %v, want within [%v, %v]", s.GetSide(), at.AsTime(), from, to)
	}
	return nil
}

// TestToggleAuthor: a toggle through gRPC records the caller's token (its name and digest,
// never the token) and the time; every reader sees them in GetIntegrationStatus, and a side
// never toggled has no author.
func TestToggleAuthor(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, t.TempDir(), "tokens", []byte("read r0\nadmin a0\nadmin a1\n"))
	h := startBadge(t, func(c *badge.Config) { c.Security.TokensFile = tokens })

	before := time.Now()
	resp, err := h.client.SetIntegration(bearer("Bearer a0"), &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	byA0 := "token:admin:" + authn.Digest("a0")
	if err := changedIs(resp.GetStatus().GetEndpoint(), false, byA0, before, after); err != nil {
		t.Errorf("SetIntegration answer: %v", err)
	}
	st, err := h.client.GetIntegrationStatus(bearer("Bearer r0"), &adjoinv1.GetIntegrationStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := changedIs(st.GetEndpoint(), false, byA0, before, after); err != nil {
		t.Errorf("status read by the read token: %v", err)
	}
	if err := changedIs(st.GetIdentity(), true, "", before, after); err != nil {
		t.Errorf("side never toggled: %v", err)
	}

	// Another admin turns it back on: the record names the other token.
	before = time.Now()
	resp, err = h.client.SetIntegration(bearer("Bearer a1"), &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := changedIs(resp.GetStatus().GetEndpoint(), true, "token:admin:"+authn.Digest("a1"), before, time.Now()); err != nil {
		t.Error(err)
	}
}

// TestToggleWithoutAuthor: toggles stored by earlier versions (a bare "on"/"off", no record
// of who) still read, with no author; so does a toggle written by hand after a recorded one,
// and a record that cannot be read.
func TestToggleWithoutAuthor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// As an earlier version left the bucket: the identity side off, nothing else.
	h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_IDENTITY), "off")
	h.run(t, nil)
	st := statusSays(t, h, func(r *adjoinv1.GetIntegrationStatusResponse) error {
		return changedIs(r.GetIdentity(), false, "", time.Time{}, time.Time{})
	})
	if st.GetIntegrationEnabled() {
		t.Error("integration on with the identity side off")
	}

	// Recorded through the API (no authentication: the peer address), then set by hand.
	resp, err := h.client.SetIntegration(rpcCtx(t), &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT, Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	if by := resp.GetStatus().GetEndpoint().GetChangedBy(); len(by) < len("peer:127.0.0.1:") || by[:len("peer:127.0.0.1:")] != "peer:127.0.0.1:" {
		t.Errorf("changed by %q without authentication, want the peer address", by)
	}
	h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_ENDPOINT), "on")
	statusSays(t, h, func(r *adjoinv1.GetIntegrationStatusResponse) error {
		return changedIs(r.GetEndpoint(), true, "", time.Time{}, time.Time{})
	})

	h.putConfig(t, app.ToggleChangeKey(adjoinv1.Side_SIDE_IDENTITY), "not json")
	h.putConfig(t, app.ToggleKey(adjoinv1.Side_SIDE_IDENTITY), "on")
	statusSays(t, h, func(r *adjoinv1.GetIntegrationStatusResponse) error {
		return changedIs(r.GetIdentity(), true, "", time.Time{}, time.Time{})
	})
}
