// Package ports holds the endpoint ingestor's incoming side that is its own (the event intake
// is pkg/ingest/intake's): the device inventory upload.
package ports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/services/endpointingest/internal/adapters"
)

// ErrNothingConverted means an inventory upload held machines but none could be converted.
var ErrNothingConverted = errors.New("no device record in the inventory could be converted")

// defaultTimeout bounds the writes of one upload.
const defaultTimeout = 30 * time.Second

// Inventory serves POST /v1/devices: the Defender for Endpoint machines API JSON (one machine,
// an array, or a {"value":[...]} page). Each machine is stored in adjoin_devices, which decides
// whether a badge is greyed. The answer is 2xx only once every converted record is stored (KV
// Put returns after the server stored it), so a sender that gets anything else sends again;
// storing is idempotent. 422 means nothing could be converted, 503 that a write failed.
type Inventory struct {
	Devices *adapters.Devices
	Log     *zap.Logger
	// MaxBodyBytes bounds a request body (default 32 MiB: a page of 10,000 machines).
	MaxBodyBytes int64
	// Timeout bounds the writes of one upload (default 30s); past it the answer is 503.
	Timeout time.Duration
	// MaxClockSkew is how far ahead of now a record's first or last sighting may be (the
	// intake's --max-clock-skew; required); a record past it, or with an oversized name, is
	// refused with the others that do not convert.
	MaxClockSkew time.Duration
}

// InventoryResponse is the JSON answer.
type InventoryResponse struct {
	Stored  int      `json:"stored"`
	Refused []string `json:"refused"`
	Error   string   `json:"error,omitempty"`
}

func (h *Inventory) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, InventoryResponse{Refused: []string{}, Error: "use POST with a JSON body"})
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 32 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		httpx.WriteJSON(w, http.StatusRequestEntityTooLarge, InventoryResponse{Refused: []string{}, Error: err.Error()})
		return
	}
	resp, status := h.load(r.Context(), body)
	httpx.WriteJSON(w, status, resp)
}

// LoadFile stores the inventory in a file (the --devices-file option) and returns how many
// records it stored. Machines refused alongside good ones are logged; the error is non-nil
// when the file cannot be read, nothing in it converts, or a write fails.
func (h *Inventory) LoadFile(ctx context.Context, path string) (int, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("devices file: %w", err)
	}
	resp, status := h.load(ctx, body)
	switch status {
	case http.StatusOK:
		return resp.Stored, nil
	case http.StatusUnprocessableEntity:
		return 0, fmt.Errorf("devices file %s: %w: %s", path, ErrNothingConverted, resp.Error)
	}
	return resp.Stored, fmt.Errorf("devices file %s: %s", path, resp.Error)
}

func (h *Inventory) load(ctx context.Context, body []byte) (InventoryResponse, int) {
	resp := InventoryResponse{Refused: []string{}}
	recs, convErr := productalert.FromMachines(body)
	if convErr != nil {
		var items productalert.Errors
		if !errors.As(convErr, &items) {
			resp.Error = convErr.Error()
			return resp, http.StatusUnprocessableEntity
		}
		for _, it := range items {
			resp.Refused = append(resp.Refused, it.Error())
		}
		h.log().Warn("device inventory records refused", zap.Int("refused", len(items)), zap.Int("converted", len(recs)), logx.Err(convErr))
		if len(recs) == 0 {
			resp.Error = ErrNothingConverted.Error()
			return resp, http.StatusUnprocessableEntity
		}
	}
	recs = h.checked(recs, &resp)
	if len(recs) == 0 && len(resp.Refused) > 0 {
		resp.Error = ErrNothingConverted.Error()
		return resp, http.StatusUnprocessableEntity
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, rec := range recs {
		if err := h.Devices.Put(ctx, rec); err != nil {
			h.log().Error("device inventory not stored; sender must retry", zap.String("host", hostOf(rec)), logx.Err(err))
			resp.Error = "not stored, retry: " + err.Error()
			return resp, http.StatusServiceUnavailable
		}
		resp.Stored++
	}
	return resp, http.StatusOK
}

// checked keeps the records within the intake's limits and lists the others as refused.
func (h *Inventory) checked(recs []*adjoinv1.DeviceRecord, resp *InventoryResponse) []*adjoinv1.DeviceRecord {
	now, kept := time.Now(), recs[:0]
	for _, rec := range recs {
		if err := intake.CheckDevice(rec, now, h.MaxClockSkew); err != nil {
			resp.Refused = append(resp.Refused, fmt.Sprintf("machine %.64q: %v", rec.GetEdrDeviceId(), err))
			continue
		}
		kept = append(kept, rec)
	}
	if n := len(recs) - len(kept); n > 0 {
		h.log().Warn("device inventory records refused", zap.Int("refused", n), zap.Int("kept", len(kept)))
	}
	return kept
}

func (h *Inventory) log() *zap.Logger {
	if h.Log == nil {
		return zap.NewNop()
	}
	return h.Log
}

func hostOf(rec *adjoinv1.DeviceRecord) string {
	if rec.GetDnsHostName() != "" {
		return rec.GetDnsHostName()
	}
	return rec.GetNetbiosName()
}
