package detect

import (
	"sync"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Processes remembers the user of recently created processes (Sysmon 1 ProcessGuid -> User),
// so events that name only a process GUID can name its user. It keeps at most its max
// processes, forgetting the oldest.
type Processes struct {
	mu sync.Mutex
	m  *bounded.Map[string, string]
}

// NewProcesses returns a process table of at most max processes (<= 0: no bound).
func NewProcesses(max int) *Processes { return &Processes{m: bounded.NewMap[string, string](max)} }

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
	p.m.Put(key, f["User"])
	return nil
}

// User returns the user of a process, or "". A nil table knows nothing.
func (p *Processes) User(host, processGUID string) string {
	if p == nil || processGUID == "" {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	user, _ := p.m.Get(processKey(host, processGUID))
	return user
}

func processKey(host, guid string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|" + entity.Fold(guid)
}
