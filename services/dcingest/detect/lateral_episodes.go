package detect

import (
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
)

// NewRemoteExecutionPair returns remote-service-creation and smb-remote-execution sharing one
// episode table, so that one remote execution from a client address (the binary written to
// ADMIN$, svcctl opened, the service installed, its pipes opened) raises one alert: the
// detector that sees the client first gives the id, the other's emissions become versions of
// it (5 minutes apart at most, 10,000 clients remembered).
func NewRemoteExecutionPair() (*RemoteServiceCreation, *SMBRemoteExecution) {
	episodes := detection.NewEpisodes(5*time.Minute, 10_000)
	rsc, smb := NewRemoteServiceCreation(), NewSMBRemoteExecution()
	rsc.Episodes, smb.Episodes = episodes, episodes
	return rsc, smb
}

// The shared episodes are keyed by client address, and by account on a target host (a local
// PsExec -s installs its service and opens its pipes from the host's own addresses).
// lateralKeys are the keys of an access or installation: the client address when known, and the
// account on the target when its SID is (an event without one joins nothing by account).
func lateralKeys(ip, host, sid string) []string {
	var keys []string
	if ip != "" {
		keys = append(keys, "client:"+ip)
	}
	if sid = entity.NormalizeSID(sid); sid != "" {
		keys = append(keys, "target:"+rsvcHost(host)+"|"+sid)
	}
	return keys
}
