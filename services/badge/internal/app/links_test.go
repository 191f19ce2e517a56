package app_test

import (
	"testing"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

func TestLinks(t *testing.T) {
	user := &adjoinv1.Entity{Key: keyPgustavo, Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo"}
	host := &adjoinv1.Entity{Key: "S-1-5-21-3669966080-2286457517-972388166-1112", Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER,
		SamAccountName: "WORKSTATION6$", DnsHostName: "WORKSTATION6.theshire.local"}
	override := func(side adjoinv1.Side) (string, bool) {
		if side == adjoinv1.Side_SIDE_ENDPOINT {
			return "https://override.example/{dnsName}", true
		}
		return "", false
	}
	tests := []struct {
		name   string
		links  app.Links
		side   adjoinv1.Side
		e      *adjoinv1.Entity
		device *adjoinv1.DeviceRecord
		want   string
	}{
		{"no template", app.Links{}, adjoinv1.Side_SIDE_IDENTITY, user, nil, ""},
		{"sid", app.Links{Identity: "https://itdr.example/e/{sid}"}, adjoinv1.Side_SIDE_IDENTITY, user, nil, "https://itdr.example/e/" + keyPgustavo},
		{"several placeholders", app.Links{Identity: "https://x.example/{sam}/{entityKey}"}, adjoinv1.Side_SIDE_IDENTITY, user, nil, "https://x.example/pgustavo/" + keyPgustavo},
		{"template without placeholders", app.Links{Identity: "https://x.example/"}, adjoinv1.Side_SIDE_IDENTITY, user, nil, "https://x.example/"},
		{"device id missing", app.Links{Endpoint: "https://edr.example/m/{deviceId}"}, adjoinv1.Side_SIDE_ENDPOINT, host, &adjoinv1.DeviceRecord{}, ""},
		{"no device record", app.Links{Endpoint: "https://edr.example/m/{deviceId}"}, adjoinv1.Side_SIDE_ENDPOINT, host, nil, ""},
		{"device id escaped", app.Links{Endpoint: "https://edr.example/m/{deviceId}"}, adjoinv1.Side_SIDE_ENDPOINT, host, &adjoinv1.DeviceRecord{EdrDeviceId: "a/b c?{sid}"}, "https://edr.example/m/a%2Fb%20c%3F%7Bsid%7D"},
		{"each side its template", app.Links{Identity: "https://i.example/{sid}", Endpoint: "https://e.example/{sam}"}, adjoinv1.Side_SIDE_ENDPOINT, user, nil, "https://e.example/pgustavo"},
		{"override", app.Links{Endpoint: "https://edr.example/m/{deviceId}", Override: override}, adjoinv1.Side_SIDE_ENDPOINT, host, nil, "https://override.example/WORKSTATION6.theshire.local"},
		{"no override for the side", app.Links{Identity: "https://i.example/{sam}", Override: override}, adjoinv1.Side_SIDE_IDENTITY, host, nil, "https://i.example/WORKSTATION6$"},
		{"dns name of a user", app.Links{Identity: "https://i.example/{dnsName}"}, adjoinv1.Side_SIDE_IDENTITY, user, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.links.For(tt.side, tt.e, tt.device); got != tt.want {
				t.Errorf("For = %q, want %q", got, tt.want)
			}
		})
	}
}
