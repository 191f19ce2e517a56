package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

const keyPgustavo = "S-1-5-21-3669966080-2286457517-972388166-1104"

// fakeStore fails the call named by failOn.
type fakeStore struct {
	failOn string
	err    error
}

func (s fakeStore) Counts(_ context.Context, key string) (*adjoinv1.EntityCounts, bool, error) {
	if s.failOn == "counts" {
		return nil, false, s.err
	}
	return &adjoinv1.EntityCounts{EntityKey: key}, false, nil
}

func (s fakeStore) Device(context.Context, string) (*adjoinv1.DeviceRecord, bool, error) {
	if s.failOn == "device" {
		return nil, false, s.err
	}
	return nil, false, nil
}

func (s fakeStore) IntegrationEnabled(context.Context, adjoinv1.Side) (bool, error) {
	if s.failOn == "toggle" {
		return false, s.err
	}
	return true, nil
}

func TestGetErrors(t *testing.T) {
	ix := directory.NewIndex()
	ix.Put(&adjoinv1.Entity{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: keyPgustavo, SamAccountName: "pgustavo", NetbiosDomain: "THESHIRE"})
	errStore := errors.New("kv unavailable")
	known := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: keyPgustavo}}
	tests := []struct {
		name    string
		sel     *adjoinv1.EntitySelector
		failOn  string
		wantErr error
	}{
		{"known entity", known, "", nil},
		{"empty selector", &adjoinv1.EntitySelector{}, "", app.ErrInvalidSelector},
		{"malformed sid", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: "S-x"}}, "", app.ErrInvalidSelector},
		{"unknown entity", &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: "S-1-5-21-1-2-3-4"}}, "", app.ErrNotFound},
		{"counts unreadable", known, "counts", errStore},
		{"device unreadable", known, "device", errStore},
		{"toggle unreadable", known, "toggle", errStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &app.Badges{Index: ix, Store: fakeStore{failOn: tt.failOn, err: errStore}}
			got, err := b.Get(context.Background(), tt.sel)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && got.GetEntity().GetKey() != keyPgustavo {
				t.Errorf("entity %q, want %q", got.GetEntity().GetKey(), keyPgustavo)
			}
			if tt.wantErr != nil && got != nil {
				t.Errorf("badge %v returned with an error", got)
			}
		})
	}
}
