package detect

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
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

// SAMRGroupEnumeration raises an alert when a user account opens a privileged group or alias
// over SAMR (Security 4661 with ObjectType SAM_GROUP or SAM_ALIAS, ObjectName the group's
// SID): what `net group "Domain Admins" /domain`, `net localgroup administrators /domain`,
// PowerView and BloodHound do to list the members of the groups worth attacking. Computer
// accounts and local system identities are skipped (machines resolve their own groups), and so
// are sessions not known to come from the network (see samrRemote).
// The well-known RID says which group it is, whatever its name in this domain.
//
// One alert per account, logon session and host, like samr-enumeration: every group opened in
// one session adds evidence to the same alert.
type SAMRGroupEnumeration struct {
	// Groups maps a privileged group's RID (domain groups) or full SID (built-in aliases) to a
	// name for descriptions.
	Groups map[string]string

	sessions *Sessions
	remote   samrRemote
}

// NewSAMRGroupEnumeration returns the detector with the built-in privileged groups. sessions
// (may be nil) gives a 4661 the address of its logon session.
func NewSAMRGroupEnumeration(sessions *Sessions) *SAMRGroupEnumeration {
	return &SAMRGroupEnumeration{Groups: samrPrivilegedGroups, sessions: sessions}
}

// Name implements detection.Detector.
func (d *SAMRGroupEnumeration) Name() string { return "samr-group-enumeration" }

// Detect implements detection.Detector.
func (d *SAMRGroupEnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() == 5145 {
		d.remote.note(ev)
		return nil
	}
	if ev.GetEventId() != 4661 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	typ := strings.TrimSpace(f["ObjectType"])
	if !strings.EqualFold(typ, "SAM_GROUP") && !strings.EqualFold(typ, "SAM_ALIAS") {
		return nil
	}
	group := d.group(f["ObjectName"])
	if group == "" {
		return nil
	}
	actor := reconSubject(f)
	if actor.empty() || actor.system() || actor.machine() {
		return nil
	}
	logonID := normHex(f["SubjectLogonId"])
	if !d.remote.remote(d.sessions, ev.GetHost(), logonID) {
		return nil // a local tool on the DC, not a query from the network
	}
	src := reconSessionSource(d.sessions, ev.GetHost(), logonID)
	nb, _ := entity.HostNames(ev.GetHost())
	id := entity.HashID(d.Name(), nb, actor.key(), logonID)
	what := "4661 " + actor.String() + " opened " + typ + " " + f["ObjectName"] + " (" + group + ") with access " + f["AccessMask"]
	desc := actor.String() + " looked up the members of " + group + " over SAMR on " + ev.GetHost() + " from " + src.String() +
		" (logon session " + logonID + "): " + what + "."
	a := reconAlert(id, d.Name(), "Privileged group enumeration over SAMR", desc, adjoinv1.Severity_SEVERITY_MEDIUM,
		[]string{"T1069.002"}, ev, reconEvidence(ev, what, "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId",
			"ObjectServer", "ObjectType", "ObjectName", "AccessMask", "ProcessName"))
	a.Entities = reconEntities(
		actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}

// group names the privileged group a SID is, or "".
func (d *SAMRGroupEnumeration) group(name string) string {
	sid := entity.NormalizeSID(name)
	if sid == "" {
		return ""
	}
	if g, ok := d.Groups[sid]; ok {
		return g
	}
	if !strings.HasPrefix(sid, "S-1-5-21-") {
		return ""
	}
	return d.Groups[sid[strings.LastIndexByte(sid, '-')+1:]]
}

// samrRemote tells a logon session that reached SAMR from the network from a local one. A
// 4661 names only its logon session; on a DC, local tools (ntdsutil, backup, the admin's own
// consoles) open the same SAM objects through lsass. A session counts as remote when its
// 4624 came from another address or when it opened \PIPE\samr on IPC$ (5145).
type samrRemote struct {
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
		r.pipes = bounded.NewMap[string, bool](samrRemoteSessions)
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
