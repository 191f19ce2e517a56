package detect

import (
	"cmp"
	"strings"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// samrPrivilegedGroups are the well-known RIDs of the groups and aliases whose members an
// attacker looks for: Domain Admins, Domain Controllers, Schema Admins, Enterprise Admins,
// Group Policy Creator Owners, Key Admins, Enterprise Key Admins, and the built-in
// Administrators, Account, Server, Print and Backup Operators.
var samrPrivilegedGroups = map[string]string{
	"512": "Domain Admins", "516": "Domain Controllers", "518": "Schema Admins", "519": "Enterprise Admins",
	"520": "Group Policy Creator Owners", "526": "Key Admins", "527": "Enterprise Key Admins",
	"S-1-5-32-544": "Administrators", "S-1-5-32-548": "Account Operators", "S-1-5-32-549": "Server Operators",
	"S-1-5-32-550": "Print Operators", "S-1-5-32-551": "Backup Operators",
}

// samrGroupName names the privileged group a SID (4661 ObjectName) is, from groups (RIDs of
// domain groups, full SIDs of built-in aliases), or "".
func samrGroupName(groups map[string]string, name string) string {
	sid := entity.NormalizeSID(name)
	if sid == "" {
		return ""
	}
	if g, ok := groups[sid]; ok {
		return g
	}
	if !strings.HasPrefix(sid, "S-1-5-21-") {
		return ""
	}
	return groups[sid[strings.LastIndexByte(sid, '-')+1:]]
}

// samrRemote tells a logon session that reached SAMR from the network from a local one. A
// 4661 names only its logon session; on a DC, local tools (ntdsutil, backup, the admin's own
// consoles) open the same SAM objects through lsass. A session counts as remote when its
// 4624 came from another address or when it opened \PIPE\samr on IPC$ (5145).
type samrRemote struct {
	// max bounds the sessions remembered for their samr pipe (0: samrRemoteSessions).
	max   int
	pipes *bounded.Map[string, bool]
}

// samrRemoteSessions bounds the sessions remembered for their samr pipe.
const samrRemoteSessions = 10_000

// note remembers a 5145 that opened the samr pipe.
func (r *samrRemote) note(ev *adjoinv1.Event) {
	if reconPipe(ev) != "samr" {
		return
	}
	if r.pipes == nil {
		r.pipes = bounded.NewMap[string, bool](cmp.Or(r.max, samrRemoteSessions))
	}
	r.pipes.Put(sessionKey(ev.GetHost(), normHex(ev.GetFields()["SubjectLogonId"])), true)
}

// remote reports whether logonID on host reached SAMR from the network.
func (r *samrRemote) remote(sessions *Sessions, host, logonID string) bool {
	if s, ok := sessions.Lookup(host, logonID); ok && s.IP != "" {
		return true
	}
	if r.pipes == nil {
		return false
	}
	_, ok := r.pipes.Get(sessionKey(host, logonID))
	return ok
}
