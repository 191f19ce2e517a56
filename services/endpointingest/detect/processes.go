package detect

import (
	"sync"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Processes remembers the user of recently created processes (Sysmon 1 ProcessGuid -> User),
// so events that name only a process GUID can name its user. It keeps at most Max processes.
type Processes struct {
	mu    sync.Mutex
	Max   int
	m     map[string]string
	order []string
}

// NewProcesses returns a bounded process table.
func NewProcesses(max int) *Processes { return &Processes{Max: max, m: map[string]string{}} }

// Name implements detection.Detector: Processes observes Sysmon 1 and never alerts.
func (p *Processes) Name() string { return "processes" }

// Detect records process creations.
func (p *Processes) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 1 || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	if f["ProcessGuid"] == "" || f["User"] == "" {
		return nil
	}
	key := processKey(ev.GetHost(), f["ProcessGuid"])
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[key]; !ok {
		p.order = append(p.order, key)
	}
	p.m[key] = f["User"]
	for p.Max > 0 && len(p.order) > p.Max {
		delete(p.m, p.order[0])
		p.order = p.order[1:]
	}
	return nil
}

// User returns the user of a process, or "". A nil table knows nothing.
func (p *Processes) User(host, processGUID string) string {
	if p == nil || processGUID == "" {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[processKey(host, processGUID)]
}

func processKey(host, guid string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|" + entity.Fold(guid)
}
