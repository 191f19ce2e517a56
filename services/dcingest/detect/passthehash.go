package detect

import (
	"strings"
	"sync"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// PassTheHash raises an alert on the logon mimikatz sekurlsa::pth (and Rubeus/Impacket
// look-alikes) leave on the host where they run: Security 4624 with LogonType 9
// (NewCredentials), LogonProcessName seclogo and AuthenticationPackageName Negotiate. The new
// session keeps the caller's local identity and carries another account's NTLM hash for the
// network, which 4624 version 2 names in TargetOutboundUserName/TargetOutboundDomainName.
//
// `runas /netonly`, UAC helpers and token tricks produce the same event, and their credentials
// may never reach the network. So the alert is high only with evidence of network use: an NTLM
// authentication of the outbound account from that host within Window (4776 with its
// Workstation, or a 4624 type 3 NTLM with its WorkstationName, on any DC or server). Before
// that it is medium when the outbound account differs from the caller or is not named (4624
// version 1), and low when it is the caller's own (nothing is gained on the network).
type PassTheHash struct {
	// Window is how long after the logon an NTLM authentication of its outbound account from
	// the same host counts as its use.
	Window time.Duration
	// MaxSessions bounds the sessions waiting for that use; the oldest are forgotten.
	MaxSessions int

	mu      sync.Mutex
	waiting *bounded.Map[string, *adjoinv1.Alert] // outbound sam|host -> the session's alert
}

// NewPassTheHash returns the detector with a 10 minute window and 10000 sessions.
func NewPassTheHash() *PassTheHash {
	return &PassTheHash{Window: 10 * time.Minute, MaxSessions: 10_000}
}

// Name implements detection.Detector.
func (d *PassTheHash) Name() string { return "pass-the-hash" }

// Detect implements detection.Detector.
func (d *PassTheHash) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if (ev.GetEventId() != 4624 && ev.GetEventId() != 4776) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if a := d.used(ev); a != nil {
		return []*adjoinv1.Alert{a}
	}
	if ev.GetEventId() != 4624 || strings.TrimSpace(f["LogonType"]) != "9" || !strings.EqualFold(strings.TrimSpace(f["LogonProcessName"]), "seclogo") ||
		!strings.EqualFold(strings.TrimSpace(f["AuthenticationPackageName"]), "Negotiate") {
		return nil
	}
	// The caller: Subject (who called LogonUser) is the same as Target in a type 9 logon, but
	// prefer Subject, falling back to Target.
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	if user == "" || user == "-" {
		user, domain, sid = f["TargetUserName"], f["TargetDomainName"], f["TargetUserSid"]
	}
	outUser, outDomain := strings.TrimSpace(f["TargetOutboundUserName"]), strings.TrimSpace(f["TargetOutboundDomainName"])
	if outUser == "-" {
		outUser = ""
	}
	if outDomain == "-" {
		outDomain = ""
	}
	t := ev.GetTime()
	a := identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), rsvcHost(ev.GetHost()), normHex(f["TargetLogonId"])),
		Title:           "Pass-the-hash: logon with injected credentials (LogonType 9, seclogo)",
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		MitreTechniques: []string{"T1550.002"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST)},
	}, t.AsTime())
	caller := domain + `\` + user
	if ref := adjUser(sid, user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	summary := "4624 type 9 seclogo Negotiate by " + caller
	if outUser != "" {
		abused := outUser
		if outDomain != "" {
			abused = outDomain + `\` + outUser
		}
		if ref := adjUser("", outUser, outDomain, adjoinv1.EntityRole_ENTITY_ROLE_TARGET); ref != nil {
			a.Entities = append(a.Entities, ref)
		}
		summary += " with outbound credentials of " + abused
		a.Description = caller + " started a logon session on " + ev.GetHost() + " that uses the credentials of " + abused +
			" for the network (sekurlsa::pth or runas /netonly); network access from it will appear as " + outUser + "."
		if strings.EqualFold(outUser, user) {
			a.Severity = adjoinv1.Severity_SEVERITY_LOW
			a.Description += " The outbound account is the caller's own: no other credentials are in play."
		}
	} else {
		a.Description = caller + " started a logon session on " + ev.GetHost() +
			" with injected network credentials (sekurlsa::pth or runas /netonly); this 4624 does not name the account whose credentials were used."
	}
	a.Evidence = []*adjoinv1.Evidence{adjEvidence(ev, summary,
		"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "TargetUserName", "TargetDomainName",
		"TargetUserSid", "TargetLogonId", "TargetOutboundUserName", "TargetOutboundDomainName", "LogonType",
		"LogonProcessName", "AuthenticationPackageName", "ProcessName")}
	if outUser != "" && !strings.EqualFold(outUser, user) {
		d.wait(outUser, ev.GetHost(), a)
	}
	return []*adjoinv1.Alert{a}
}
