package detect

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Helpers shared by the reconnaissance detectors (samr-enumeration, share-enumeration,
// group-enumeration, account-enumeration, tgs-host-enumeration, honeytoken-access).

// reconSource identifies where a request came from: an address (4624, 5145, Kerberos events)
// or, for NTLM 4776, only the client's NetBIOS name.
type reconSource struct {
	IP   string
	Host string
}

// key is the source as one string, for burst keys and alert ids.
func (s reconSource) key() string {
	if s.IP != "" {
		return "ip:" + strings.ToLower(s.IP)
	}
	if nb, _ := entity.HostNames(s.Host); nb != "" {
		return "host:" + nb
	}
	return ""
}

// ref is the source computer entity, or nil when nothing is known.
func (s reconSource) ref() *adjoinv1.EntityRef {
	if s.IP != "" {
		return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: s.IP}
	}
	if nb, _ := entity.HostNames(s.Host); nb != "" {
		return detection.HostRef(s.Host, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)
	}
	return nil
}

// String names the source in descriptions.
func (s reconSource) String() string {
	switch {
	case s.IP != "":
		return s.IP
	case s.Host != "":
		return s.Host
	}
	return "an unknown address"
}

// reconSessionSource is the address of the logon session logonID on host, when the session
// table saw its 4624.
func reconSessionSource(sessions *Sessions, host, logonID string) reconSource {
	if s, ok := sessions.Lookup(host, logonID); ok {
		return reconSource{IP: s.IP}
	}
	return reconSource{}
}

// reconAccount is an account as an event names it, split into domain and sAMAccountName.
type reconAccount struct {
	account
}

// reconAccountOf reads an account from name/domain/SID fields. name may be DOMAIN\sam or
// sam@REALM (4769 TargetUserName); the domain part then wins over an empty domain field.
func reconAccountOf(name, domain, sid string) reconAccount {
	d, sam := entity.SplitAccount(name)
	if d == "" {
		d = entity.Fold(domain)
	}
	if d == "-" {
		d = ""
	}
	return reconAccount{account{SID: accountSID(sid), Domain: d, Sam: sam}}
}

// system reports the local system identities (SYSTEM, LOCAL SERVICE, NETWORK SERVICE,
// ANONYMOUS LOGON and the like), which are not directory users.
func (a reconAccount) system() bool {
	switch a.Domain {
	case "nt authority", "window manager", "font driver host":
		return true
	}
	return localSID(a.SID)
}

// key identifies the account in burst keys and alert ids: domain\sam (the SID is not in every
// event of the account, so it cannot be part of the key).
func (a reconAccount) key() string {
	return a.Domain + `\` + a.Sam
}

// ref is the account as an entity with role.
func (a reconAccount) ref(role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, Sid: a.SID, SamAccountName: a.Sam, Domain: a.Domain}
}

// reconSubject is the Subject* account of an event (4661, 4662, 5145).
func reconSubject(f map[string]string) reconAccount {
	return reconAccountOf(f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"])
}

// reconAlert fills the fields every reconnaissance alert shares; the caller adds entities.
func reconAlert(id, detector, title, description string, severity adjoinv1.Severity, techniques []string, ev *adjoinv1.Event, ev1 *adjoinv1.Evidence) *adjoinv1.Alert {
	t := ev.GetTime().AsTime()
	a := identityAlert(&adjoinv1.Alert{
		Id:              id,
		Title:           title,
		Description:     description,
		Detector:        detector,
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE,
		MitreTechniques: techniques,
		Severity:        severity,
	}, t)
	if ev1 != nil {
		a.Evidence = []*adjoinv1.Evidence{ev1}
	}
	return a
}

// reconEvidence is the evidence of one event, with the fields the detector used.
func reconEvidence(ev *adjoinv1.Event, summary string, keys ...string) *adjoinv1.Evidence {
	return &adjoinv1.Evidence{
		Kind:     "windows-event",
		Summary:  summary,
		Host:     ev.GetHost(),
		Time:     timestamppb.New(ev.GetTime().AsTime()),
		EventId:  reconEventID(ev),
		RecordId: ev.GetRecordId(),
		Fields:   detection.Pick(ev.GetFields(), keys...),
	}
}

// reconPipe is the named pipe a Security 5145 opened on IPC$ (folded: "samr", "srvsvc"), or
// "" for any other event. ShareName is `\\*\IPC$`; some versions write the pipe with a
// leading backslash.
func reconPipe(ev *adjoinv1.Event) string {
	if ev.GetEventId() != 5145 || !detection.IsSecurity(ev) {
		return ""
	}
	f := ev.GetFields()
	if !strings.HasSuffix(strings.ToUpper(strings.TrimSpace(f["ShareName"])), `IPC$`) {
		return ""
	}
	return strings.TrimLeft(entity.Fold(f["RelativeTargetName"]), `\`)
}

// reconEventID is the event id as text, for evidence summaries.
func reconEventID(ev *adjoinv1.Event) string { return strconv.Itoa(int(ev.GetEventId())) }
