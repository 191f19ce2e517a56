package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// psexecPipe reports a PsExec-family pipe: a known service's prefix, or PsExec's per-client
// -stdin/-stdout/-stderr suffix under any name.
func psexecPipe(name string) bool {
	pipe := entity.Fold(name)
	for _, p := range psexecPipePrefixes {
		if strings.HasPrefix(pipe, p) {
			return true
		}
	}
	for _, s := range psexecPipeSuffixes {
		if strings.HasSuffix(pipe, s) {
			return true
		}
	}
	return false
}

// hold reports whether a weak event at t joins the host's current execution; if not, its
// evidence is held (the oldest dropped past MaxHeld) for an execution shown within Window.
func (d *PsExecService) hold(host string, t time.Time, e *adjoinv1.Evidence) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.host(host)
	if !h.start.IsZero() && !t.Before(h.first.Add(-d.Window)) && !t.After(h.last.Add(d.Window)) {
		return true
	}
	h.held = append(h.held, e)
	if over := len(h.held) - d.MaxHeld; d.MaxHeld > 0 && over > 0 {
		h.held = h.held[over:]
	}
	return false
}
