package ports

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/services/endpointingest/internal/adapters"
)

// WORKSTATION6 of the OTRF Shire lab (shared/data).
const sidWS6 = "S-1-5-21-3669966080-2286457517-972388166-1112"

// Hand-written machines API JSON (no sample in shared/data), documented field names.
const (
	machineWS6 = `{"id": "111e6dd8c833c8a052ea231ec1b19adaf497b625", "computerDnsName": "workstation6.theshire.local",
  "onboardingStatus": "CanBeOnboarded", "firstSeen": "2020-08-01T00:00:00Z", "lastSeen": "2020-10-18T00:00:00Z",
  "osPlatform": "Windows10", "aadDeviceId": null}`
	machineWS9 = `{"id": "9999", "computerDnsName": "workstation9.theshire.local", "onboardingStatus": "Onboarded",
  "lastSeen": "2020-10-18T00:00:00Z"}`
	machineBad = `{"id": "bad", "computerDnsName": "workstation8.theshire.local", "onboardingStatus": "Offboarded"}`
	// A duplicate record dated 9999 would win the last-seen tie-break for good.
	machineFuture = `{"id": "future", "computerDnsName": "workstation6.theshire.local", "onboardingStatus": "Offboarded",
  "lastSeen": "9999-12-31T23:59:59Z"}`
)

// machineLongName is a machine whose DNS name is 5,000 characters.
var machineLongName = `{"id": "long", "computerDnsName": "` + strings.Repeat("w", 5000) + `.theshire.local", "onboardingStatus": "Onboarded",
  "lastSeen": "2020-10-18T00:00:00Z"}`

type fixture struct {
	srv *natstest.Server
	inv *Inventory
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := natstest.Start(t)
	ix := directory.NewIndex()
	ix.Put(&adjoinv1.Entity{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Sid: sidWS6, SamAccountName: "WORKSTATION6$",
		NetbiosDomain: "THESHIRE", DnsDomain: "theshire.local",
		DnsHostName: "WORKSTATION6.theshire.local", NetbiosName: "WORKSTATION6",
	})
	return &fixture{srv: s, inv: &Inventory{
		Devices:      &adapters.Devices{KV: s.KV(t, natsx.BucketDevices), Index: ix},
		Log:          zaptest.NewLogger(t),
		MaxClockSkew: intake.DefaultMaxClockSkew,
	}}
}

func (f *fixture) post(t *testing.T, body string) (int, InventoryResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.inv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/devices", strings.NewReader(body)))
	var resp InventoryResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return rec.Code, resp
}

func (f *fixture) status(t *testing.T, key string) string {
	t.Helper()
	e, err := f.inv.Devices.KV.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	var rec adjoinv1.DeviceRecord
	if err := natsx.Decode(nil, e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return rec.GetOnboardingStatus()
}

func TestInventoryHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		wantCode    int
		wantStored  int
		wantRefused int
		wantKeys    map[string]string // key -> onboarding status
	}{
		{"page", `{"value": [` + machineWS6 + `,` + machineWS9 + `]}`, http.StatusOK, 2, 0,
			map[string]string{sidWS6: "can_be_onboarded", "host.workstation9.theshire.local": "onboarded"}},
		{"one bad machine", `[` + machineWS6 + `,` + machineBad + `]`, http.StatusOK, 1, 1,
			map[string]string{sidWS6: "can_be_onboarded"}},
		{"single", machineWS9, http.StatusOK, 1, 0, map[string]string{"host.workstation9.theshire.local": "onboarded"}},
		{"empty page", `{"value": []}`, http.StatusOK, 0, 0, nil},
		{"nothing converts", `[` + machineBad + `]`, http.StatusUnprocessableEntity, 0, 1, nil},
		{"not JSON", `machines`, http.StatusUnprocessableEntity, 0, 0, nil},
		{"dated 9999 beside a good one", `[` + machineWS6 + `,` + machineFuture + `]`, http.StatusOK, 1, 1,
			map[string]string{sidWS6: "can_be_onboarded"}},
		{"only dated 9999", machineFuture, http.StatusUnprocessableEntity, 0, 1, nil},
		{"name of 5,000 characters", machineLongName, http.StatusUnprocessableEntity, 0, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			code, resp := f.post(t, tt.body)
			if code != tt.wantCode || resp.Stored != tt.wantStored || len(resp.Refused) != tt.wantRefused {
				t.Fatalf("%d %+v, want %d stored %d refused %d", code, resp, tt.wantCode, tt.wantStored, tt.wantRefused)
			}
			for key, want := range tt.wantKeys {
				if got := f.status(t, key); got != want {
					t.Errorf("%s: status %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestInventoryMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.inv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/devices", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// A store that cannot write answers 503, so the sender retries.
func TestInventoryStoreDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.inv.Timeout = time.Second
	f.srv.Shutdown()
	f.srv.WaitForShutdown()
	code, resp := f.post(t, machineWS6)
	if code != http.StatusServiceUnavailable || resp.Stored != 0 || resp.Error == "" {
		t.Errorf("store down: %d %+v, want 503", code, resp)
	}
}

func TestInventoryLoadFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "machines.json")
	bad := filepath.Join(dir, "bad.json")
	for path, body := range map[string]string{good: `[` + machineWS6 + `,` + machineBad + `]`, bad: `[` + machineBad + `]`} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.inv.LoadFile(context.Background(), good)
	if err != nil || n != 1 || f.status(t, sidWS6) != "can_be_onboarded" {
		t.Errorf("LoadFile(good) = %d, %v", n, err)
	}
	if n, err := f.inv.LoadFile(context.Background(), bad); !errors.Is(err, ErrNothingConverted) || n != 0 {
		t.Errorf("LoadFile(bad) = %d, %v; want ErrNothingConverted", n, err)
	}
	if _, err := f.inv.LoadFile(context.Background(), filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v", err)
	}
}
