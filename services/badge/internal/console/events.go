package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Live page timing: a comment line keeps idle connections (and proxies) from timing out, and
// changes that come in a burst are told once.
const (
	heartbeat = 15 * time.Second
	coalesce  = 300 * time.Millisecond
)

// entityEvents tells an entity page when its badge changed (a new alert, an update, a toggle,
// the other side learning the entity): the page then reloads its live part.
func (h *handler) entityEvents(w http.ResponseWriter, r *http.Request, _ caller) {
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: r.PathValue("key")}}
	get := func(ctx context.Context) (*adjoinv1.Badge, error) {
		resp, err := h.api.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: sel})
		return resp.GetBadge(), err
	}
	last, err := get(r.Context())
	if err != nil {
		code, msg := explain(err)
		http.Error(w, msg, code)
		return
	}
	h.events(w, r, func(ctx context.Context) bool {
		b, err := get(ctx)
		if err != nil || proto.Equal(b, last) {
			return false
		}
		last = b
		return true
	})
}

// statusEvents tells the status page when a toggle or a badge changed.
func (h *handler) statusEvents(w http.ResponseWriter, r *http.Request, _ caller) {
	h.events(w, r, func(context.Context) bool { return true })
}

// events streams "changed" events while the page is open, whenever a change passes
// changed, at most one per coalesce. At most MaxLive streams are open at once; the others
// are told to retry later. A stream ends when the browser leaves or the service stops.
func (h *handler) events(w http.ResponseWriter, r *http.Request, changed func(context.Context) bool) {
	flusher, ok := w.(http.Flusher)
	if !ok || h.changes == nil {
		http.Error(w, "live updates are not available", http.StatusNotImplemented)
		return
	}
	select {
	case h.live <- struct{}{}:
		defer func() { <-h.live }()
	default:
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live pages are open; this one will not update by itself", http.StatusServiceUnavailable)
		return
	}
	keys, stop := h.changes()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !send("retry: 5000\n: live\n\n") {
		return
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	var due <-chan time.Time // set while a change waits to be told
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.stop:
			send("event: closing\ndata: the service is stopping\n\n")
			return
		case <-beat.C:
			if !send(": heartbeat\n\n") {
				return
			}
		case _, ok := <-keys:
			if !ok {
				return
			}
			if due == nil {
				due = time.After(coalesce)
			}
		case <-due:
			due = nil
			if changed(r.Context()) && !send("event: changed\ndata: reload\n\n") {
				return
			}
		}
	}
}
