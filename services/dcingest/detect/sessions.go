package detect

import (
	"strconv"
	"sync"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Session is what a 4624 logon event tells about a logon session.
type Session struct {
	User, Domain, SID string
	IP                string
}

// Sessions remembers recent logon sessions per host (4624 TargetLogonId), so later events that
// carry only a SubjectLogonId can be traced to the address the session came from. It keeps at
// most its max sessions, forgetting the oldest.
type Sessions struct {
	mu sync.Mutex
	m  *bounded.Map[string, Session]
}

// NewSessions returns a session table of at most max sessions (<= 0: no bound).
func NewSessions(max int) *Sessions { return &Sessions{m: bounded.NewMap[string, Session](max)} }

// Name implements detection.Detector: Sessions observes 4624 and never alerts.
func (s *Sessions) Name() string { return "logon-sessions" }

// Detect records 4624 logons.
func (s *Sessions) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4624 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	id := normHex(f["TargetLogonId"])
	if id == "" {
		// A logon without an id (Samba's SMB and LDAP logons) names no session to find later.
		return nil
	}
	ip := winevent.ClientAddress(f["IpAddress"])
	s.put(sessionKey(ev.GetHost(), id), Session{
		User: f["TargetUserName"], Domain: f["TargetDomainName"], SID: f["TargetUserSid"], IP: ip,
	})
	return nil
}

// Lookup returns the session with logonID on host. A nil table finds nothing.
func (s *Sessions) Lookup(host, logonID string) (Session, bool) {
	if s == nil {
		return Session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Get(sessionKey(host, logonID))
}

func (s *Sessions) put(key string, v Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Put(key, v)
}

func sessionKey(host, logonID string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|" + logonID
}

func strconvHex(v uint64) string { return strconv.FormatUint(v, 16) }
