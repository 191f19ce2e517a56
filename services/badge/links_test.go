package badge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// TestLinks: deep links come from the configured templates, the endpoint one only once the
// endpoint side recorded the device's id, and adjoin_config overrides them at run time.
func TestLinks(t *testing.T) {
	t.Parallel()
	h := startBadge(t, func(c *badge.Config) {
		c.IdentityLink = "https://itdr.example/e/{sid}"
		c.EndpointLink = "https://edr.example/m/{deviceId}"
	})
	const idWS6 = "https://itdr.example/e/" + keyWS6
	steps := []struct {
		name               string
		write              func(t *testing.T)
		sel                *adjoinv1.EntitySelector
		identity, endpoint string
		known              bool // the endpoint side knows the entity (so the write was seen)
	}{
		{"identity link from the template, no device id yet", func(*testing.T) {}, bySID(keyWS6), idWS6, "", false},
		{"device record without an edr id", func(t *testing.T) {
			h.put(t, h.devices, keyWS6, &adjoinv1.DeviceRecord{Key: keyWS6, OnboardingStatus: "onboarded"})
		}, bySID(keyWS6), idWS6, "", true},
		{"device record with an edr id", func(t *testing.T) {
			h.put(t, h.devices, keyWS6, &adjoinv1.DeviceRecord{Key: keyWS6, OnboardingStatus: "onboarded", EdrDeviceId: "8f3a9c2e-ws6"})
		}, bySID(keyWS6), idWS6, "https://edr.example/m/8f3a9c2e-ws6", true},
		{"edr id recorded under the host name, escaped", func(t *testing.T) {
			h.put(t, h.devices, entity.HostNameKey("WORKSTATION5.theshire.local"), &adjoinv1.DeviceRecord{OnboardingStatus: "onboarded", EdrDeviceId: "ws5/with space"})
		}, byQuery("WORKSTATION5"), "https://itdr.example/e/" + keyWS5, "https://edr.example/m/ws5%2Fwith%20space", true},
		{"identity template overridden in adjoin_config", func(t *testing.T) {
			h.putConfig(t, app.LinkKey(adjoinv1.Side_SIDE_IDENTITY), "https://portal.example/{sam}?k={entityKey}")
		}, bySID(keyWS6), "https://portal.example/WORKSTATION6$?k=" + keyWS6, "https://edr.example/m/8f3a9c2e-ws6", true},
		{"endpoint template overridden with one of a missing value", func(t *testing.T) {
			h.putConfig(t, app.LinkKey(adjoinv1.Side_SIDE_ENDPOINT), "https://edr.example/host/{dnsName}")
		}, bySID(keyPgustavo), "https://portal.example/pgustavo?k=" + keyPgustavo, "", false},
		{"endpoint override for a computer", func(*testing.T) {}, bySID(keyWS6), "https://portal.example/WORKSTATION6$?k=" + keyWS6, "https://edr.example/host/WORKSTATION6.theshire.local", true},
		{"override deleted: the configured template again", func(t *testing.T) {
			for _, side := range []adjoinv1.Side{adjoinv1.Side_SIDE_IDENTITY, adjoinv1.Side_SIDE_ENDPOINT} {
				if err := h.config.Delete(context.Background(), app.LinkKey(side)); err != nil {
					t.Fatal(err)
				}
			}
		}, bySID(keyWS6), idWS6, "https://edr.example/m/8f3a9c2e-ws6", true},
		{"override set empty: no link", func(t *testing.T) {
			h.putConfig(t, app.LinkKey(adjoinv1.Side_SIDE_IDENTITY), "")
		}, bySID(keyWS6), "", "https://edr.example/m/8f3a9c2e-ws6", true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.write(t)
			testkit.Eventually(t, 5*time.Second, badgeSays(h, t, st.sel, func(b *adjoinv1.Badge) error {
				if id, ep := b.GetIdentity().GetLink(), b.GetEndpoint().GetLink(); id != st.identity || ep != st.endpoint {
					return fmt.Errorf("links %q, %q; want %q, %q", id, ep, st.identity, st.endpoint)
				}
				if b.GetEndpoint().GetKnown() != st.known {
					return fmt.Errorf("endpoint known %v, want %v", b.GetEndpoint().GetKnown(), st.known)
				}
				return nil
			}))
		})
	}
}
