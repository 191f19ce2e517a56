package detect

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// samrDomainListAccounts is DOMAIN_LIST_ACCOUNTS, the SAM domain right that SamrEnumerateUsers,
// -Groups and -Aliases need ([MS-SAMR] 2.2.1.6).
const samrDomainListAccounts = 0x100

// SAMREnumeration raises an alert when a user account talks SAMR to a host the way `net user
// /domain`, `net group "Domain Admins" /domain`, PowerView and BloodHound do: Security 5145
// opening the `samr` pipe on IPC$, 4661 opening a SAM_DOMAIN object with a right that lists
// its accounts (T1087.002), and 4661 opening a privileged group or alias (SAM_GROUP,
// SAM_ALIAS; ObjectName the group's SID, recognised by its well-known RID) to read its
// members (T1069.002; the alert then carries both techniques). Computer accounts are
// skipped, since member machines open SAMR on their DC all the time (with 0x20094, which has
// no listing right). A 4661 of a session known to be local, or of an unknown session on the
// Builtin domain, does not count (see samrRemote): local tools on a DC open those too.
//
// One alert per account, logon session and host: the 5145 and the 4661 of one enumeration
// share the SubjectLogonId, and a logon session comes from one address, so the id needs no
// address (the 4661 has none of its own).
type SAMREnumeration struct {
	// DomainAccess are the SAM_DOMAIN access-mask bits of which a 4661 needs at least one to
	// count; default DOMAIN_LIST_ACCOUNTS (0x100). Zero counts every SAM_DOMAIN open.
	DomainAccess uint64
	// Groups maps a privileged group's RID (domain groups) or full SID (built-in aliases) to a
	// name; a 4661 opening one of them (SAM_GROUP, SAM_ALIAS) is group enumeration, T1069.002.
	Groups map[string]string

	sessions *Sessions
	remote   samrRemote
}

// NewSAMREnumeration returns the detector. sessions (may be nil) gives a 4661 the address of
// its logon session.
func NewSAMREnumeration(sessions *Sessions) *SAMREnumeration {
	return &SAMREnumeration{DomainAccess: samrDomainListAccounts, Groups: samrPrivilegedGroups, sessions: sessions}
}

// Name implements detection.Detector.
func (d *SAMREnumeration) Name() string { return "samr-enumeration" }

// Detect implements detection.Detector.
func (d *SAMREnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	f := ev.GetFields()
	var what string
	var src reconSource
	var keys []string
	techniques := []string{"T1087.002"}
	switch {
	case reconPipe(ev) == "samr":
		what = `opened \PIPE\samr on IPC$`
		src = reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
		keys = []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "IpPort", "ShareName", "RelativeTargetName", "AccessMask"}
	case ev.GetEventId() == 4661 && detection.IsSecurity(ev) && (strings.EqualFold(f["ObjectType"], "SAM_GROUP") || strings.EqualFold(f["ObjectType"], "SAM_ALIAS")):
		group := samrGroupName(d.Groups, f["ObjectName"])
		if group == "" {
			return nil
		}
		what = "opened " + f["ObjectType"] + " " + f["ObjectName"] + " (" + group + ") with access " + f["AccessMask"]
		techniques = []string{"T1069.002"}
		keys = []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName", "AccessMask", "ProcessName"}
	case ev.GetEventId() == 4661 && detection.IsSecurity(ev) && strings.EqualFold(f["ObjectType"], "SAM_DOMAIN"):
		mask, err := winevent.ParseHex(f["AccessMask"])
		if err != nil || (d.DomainAccess != 0 && mask&d.DomainAccess == 0) {
			return nil
		}
		what = "opened SAM domain " + f["ObjectName"] + " with access " + f["AccessMask"]
		keys = []string{"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName", "AccessMask", "ProcessName"}
	default:
		return nil
	}
	actor := reconSubject(f)
	if actor.empty() || actor.system() || actor.machine() {
		return nil
	}
	logonID := normHex(f["SubjectLogonId"])
	if ev.GetEventId() == 5145 {
		d.remote.note(ev)
	} else if !d.remote.counts(d.sessions, ev.GetHost(), logonID, samrBuiltin(f)) {
		return nil // a local tool on the DC (ntdsutil, VSS, backup), not a query from the network
	}
	if src.IP == "" {
		src = reconSessionSource(d.sessions, ev.GetHost(), logonID)
	}
	nb, _ := entity.HostNames(ev.GetHost())
	id := entity.HashID(d.Name(), nb, actor.key(), logonID)
	desc := actor.String() + " enumerated domain accounts over SAMR on " + ev.GetHost() + " from " + src.String() +
		" (logon session " + logonID + "): it " + what + "."
	a := reconAlert(id, d.Name(), "Domain account or group enumeration over SAMR", desc, adjoinv1.Severity_SEVERITY_MEDIUM,
		techniques, ev, reconEvidence(ev, reconEventID(ev)+" "+actor.String()+" "+what, keys...))
	a.Entities = detection.Refs(
		actor.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
	)
	return []*adjoinv1.Alert{a}
}
