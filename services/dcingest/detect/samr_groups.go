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

// samrRemote tells a 4661 of a logon session that reached SAMR from the network from one of
// a local tool. A 4661 names only its logon session; on a DC, local tools (ntdsutil, VSS,
// backup) open the Builtin domain and its aliases through lsass. A session is remote when its
// 4624 came from another address or it opened \PIPE\samr on IPC$ (5145), local when its 4624
// had no address; a session of which nothing is known counts unless the object is in the
// Builtin domain (recordings exported by event id keep the 4661 alone).
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

// counts reports whether a 4661 of logonID on host, on an object of the Builtin domain or
// not, counts as SAMR use from the network.
func (r *samrRemote) counts(sessions *Sessions, host, logonID string, builtin bool) bool {
	if r.pipes != nil {
		if _, ok := r.pipes.Get(sessionKey(host, logonID)); ok {
			return true
		}
	}
	if s, ok := sessions.Lookup(host, logonID); ok {
		return s.IP != ""
	}
	return !builtin
}

// samrBuiltin reports whether a 4661's object is in the Builtin domain: the domain itself
// (CN=Builtin,…) or one of its aliases (S-1-5-32-…).
func samrBuiltin(f map[string]string) bool {
	name := strings.TrimSpace(f["ObjectName"])
	return strings.HasPrefix(strings.ToUpper(name), "CN=BUILTIN,") || strings.HasPrefix(strings.ToUpper(name), "S-1-5-32-")
}
