package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/httpx"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// ProductAlerts serves POST /v1/product-alerts: alerts of a detection product in the Microsoft
// Graph security alerts_v2 JSON shape (one alert, an array, or a {"value":[...]} page), passed
// through onto ALERTS as adjoin alerts of Side. A status update of an alert already sent is a
// newer version of the same alert. 2xx comes only after JetStream stored every alert; alerts
// that cannot be converted are listed in the answer and the body is copied to DEADLETTER.
type ProductAlerts struct {
	JS      jetstream.JetStream
	Service string
	Side    adjoinv1.Side
	Log     *zap.Logger
	// MaxBodyBytes bounds a request body (default 16 MiB).
	MaxBodyBytes int64
	// Convert reads the body; nil is productalert.FromGraphAlert. productalert.FromMDEAlert
	// takes the Defender for Endpoint alerts API shape instead.
	Convert func([]byte) ([]*adjoinv1.Alert, error)
	// MaxClockSkew is how far ahead of the receive time an alert may be dated (ServiceConfig's
	// --max-clock-skew; required); an alert past it, or with an oversized entity name, is
	// refused.
	MaxClockSkew time.Duration
}

// ProductAlertsResponse is the JSON answer.
type ProductAlertsResponse struct {
	Accepted    int      `json:"accepted"`
	Duplicates  int      `json:"already_stored"`
	OtherSide   int      `json:"other_side"`
	Unsupported int      `json:"unsupported"`
	Refused     []string `json:"refused"`
	Error       string   `json:"error,omitempty"`
}

func (p *ProductAlerts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, ProductAlertsResponse{Error: "use POST with a JSON body"})
		return
	}
	limit := p.MaxBodyBytes
	if limit <= 0 {
		limit = 16 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		httpx.WriteJSON(w, http.StatusRequestEntityTooLarge, ProductAlertsResponse{Error: err.Error()})
		return
	}
	resp, status := p.ingest(r.Context(), body, "http:"+r.RemoteAddr)
	httpx.WriteJSON(w, status, resp)
}

func (p *ProductAlerts) ingest(ctx context.Context, body []byte, origin string) (ProductAlertsResponse, int) {
	resp := ProductAlertsResponse{Refused: []string{}}
	convert := p.Convert
	if convert == nil {
		convert = productalert.FromGraphAlert
	}
	alerts, convErr := convert(body)
	batch := natsx.NewBatchContext(ctx, p.JS) // the async window is shared: wait for a slot, do not fail after 200 ms
	if convErr != nil {
		var items productalert.Errors
		if !errors.As(convErr, &items) {
			items = productalert.Errors{&productalert.ItemError{Index: 0, Err: convErr}}
		}
		invalid := false
		for _, it := range items {
			if errors.Is(it, productalert.ErrUnsupported) {
				resp.Unsupported++
				continue
			}
			invalid = true
			resp.Refused = append(resp.Refused, it.Error())
		}
		if invalid {
			if err := batch.Add(natsx.DeadLetterMsg(p.Service, "invalid-product-alert", body, convErr.Error(), origin)); err != nil {
				resp.Error = err.Error()
				return resp, http.StatusServiceUnavailable
			}
		}
	}
	deadReasons := map[string]bool{} // the body is copied to DEADLETTER once per reason
	for _, a := range alerts {
		if a.GetSide() != p.Side {
			resp.OtherSide++
			continue
		}
		var le *LineError
		if errors.As(checkAlert(a, time.Now(), p.MaxClockSkew), &le) { // limits.go
			resp.Refused = append(resp.Refused, fmt.Sprintf("alert %.64s: %v", a.GetProductAlertId(), le))
			if !deadReasons[le.Reason] {
				deadReasons[le.Reason] = true
				if err := batch.Add(natsx.DeadLetterMsg(p.Service, le.Reason, body, le.Error(), origin)); err != nil {
					resp.Error = err.Error()
					return resp, http.StatusServiceUnavailable
				}
			}
			continue
		}
		msg, err := natsx.NewMsg(detection.Subject(a), detection.MsgID(a), a)
		if err == nil {
			err = batch.Add(msg)
		}
		if err != nil {
			resp.Error = err.Error()
			return resp, http.StatusServiceUnavailable
		}
		resp.Accepted++
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dups, err := batch.Wait(wctx)
	if err != nil {
		p.Log.Error("product alerts not stored; sender must retry", logx.Err(err))
		resp.Error = "not stored, retry: " + err.Error()
		return resp, http.StatusServiceUnavailable
	}
	resp.Duplicates = dups
	if resp.Accepted == 0 && len(resp.Refused) > 0 {
		return resp, http.StatusUnprocessableEntity
	}
	return resp, http.StatusOK
}
