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

// Keys of the shared episodes: a client address, and an account on a target host (a local
// PsExec -s installs its service and opens its pipes from the host's own addresses).
func lateralClientKey(ip string) string { return "client:" + ip }

func lateralTargetKey(host, sid string) string {
	return "target:" + rsvcHost(host) + "|" + entity.NormalizeSID(sid)
}
