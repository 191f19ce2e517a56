package detect

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// domainService describes a port that domain controllers and servers answer on, with what
// reaching it from an implant usually means.
type domainService struct {
	name      string
	phase     adjoinv1.KillChainPhase
	technique string
}

var domainServices = map[string]domainService{
	"135":  {"RPC endpoint mapper", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT, "T1021"},
	"139":  {"NetBIOS session", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT, "T1021.002"},
	"389":  {"LDAP", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE, "T1087.002"},
	"445":  {"SMB", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT, "T1021.002"},
	"636":  {"LDAPS", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE, "T1087.002"},
	"3268": {"Global Catalog", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE, "T1087.002"},
	"5985": {"WinRM", adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT, "T1021.006"},
}

// userFolders are where programs a user dropped run from; Windows' own clients of these
// services (lsass.exe for Kerberos, svchost.exe, System for SMB) live elsewhere.
var userFolders = []string{`\users\`, `\temp\`, `\programdata\`, `\windows\tasks\`}

// UserBinaryToDomainService raises an alert when a program running from a user-writable folder
// opens a connection to RPC, LDAP, SMB or WinRM (Sysmon 3, initiated): how implants such as
// Covenant's Grunt, or attack tooling enumerating the domain, show up on the endpoint. Kerberos
// (port 88) is left to KerberosFromNonLSASS, which covers any process, wherever it runs from.
// One alert per process and host.
type UserBinaryToDomainService struct{}

// Name implements detection.Detector.
func (UserBinaryToDomainService) Name() string { return "user-binary-to-domain-service" }

// Detect implements detection.Detector.
func (d UserBinaryToDomainService) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 3 || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	svc, ok := domainServices[f["DestinationPort"]]
	if !ok || !strings.EqualFold(f["Initiated"], "true") || !inUserFolder(f["Image"]) {
		return nil
	}
	image := detection.BaseName(f["Image"])
	t := ev.GetTime()
	a := endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), entity.Fold(ev.GetHost()), entity.Fold(f["ProcessGuid"])),
		Title:           "Program in a user folder contacted a domain service",
		Description:     fmt.Sprintf("%s on %s, run by %s, connected to %s %s:%s.", f["Image"], ev.GetHost(), f["User"], svc.name, f["DestinationIp"], f["DestinationPort"]),
		Detector:        d.Name(),
		KillChainPhase:  svc.phase,
		MitreTechniques: []string{svc.technique},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)},
		Evidence: []*adjoinv1.Evidence{{
			Kind:     "sysmon",
			Summary:  fmt.Sprintf("3 %s -> %s:%s (%s)", image, f["DestinationIp"], f["DestinationPort"], svc.name),
			Host:     ev.GetHost(),
			Time:     timestamppb.New(t.AsTime()),
			EventId:  "3",
			RecordId: ev.GetRecordId(),
			Fields:   detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "User", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort", "DestinationHostname"),
		}},
	}, t.AsTime())
	if ref := detection.UserRef(f["User"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	return []*adjoinv1.Alert{a}
}

func inUserFolder(image string) bool {
	p := strings.ToLower(image)
	for _, f := range userFolders {
		if strings.Contains(p, f) {
			return true
		}
	}
	return false
}
