package detect

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// KerberosFromNonLSASS raises an alert when a process other than lsass.exe opens a connection
// to a KDC (Sysmon 3, initiated, destination port 88). On Windows only the LSA speaks Kerberos;
// a tool that asks the KDC itself (Rubeus asktgt/asktgs, Kekeo, impacket run on the host) is
// forging or stealing tickets. One alert per process and host.
type KerberosFromNonLSASS struct {
	// Allowed are further image base names trusted to speak Kerberos (lower case).
	Allowed map[string]bool
}

// NewKerberosFromNonLSASS returns the detector; only lsass.exe is trusted by default.
func NewKerberosFromNonLSASS() *KerberosFromNonLSASS {
	return &KerberosFromNonLSASS{Allowed: map[string]bool{"lsass.exe": true}}
}

// Name implements detection.Detector.
func (d *KerberosFromNonLSASS) Name() string { return "kerberos-from-non-lsass" }

// Detect implements detection.Detector.
func (d *KerberosFromNonLSASS) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 3 || !detection.IsSysmon(ev) {
		return nil
	}
	f := ev.GetFields()
	image := detection.BaseName(f["Image"])
	if f["DestinationPort"] != "88" || !strings.EqualFold(f["Initiated"], "true") || image == "" || d.Allowed[image] {
		return nil
	}
	t := ev.GetTime()
	a := endpointAlert(&adjoinv1.Alert{
		Id:              entity.HashID(d.Name(), entity.Fold(ev.GetHost()), entity.Fold(f["ProcessGuid"])),
		Title:           "A process other than LSASS talked to the Kerberos KDC",
		Description:     fmt.Sprintf("%s on %s, run by %s, connected to the KDC %s:88 itself.", f["Image"], ev.GetHost(), f["User"], f["DestinationIp"]),
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1558"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities:        []*adjoinv1.EntityRef{detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST)},
		Evidence: []*adjoinv1.Evidence{{
			Kind:     "sysmon",
			Summary:  fmt.Sprintf("3 %s -> %s:88 (Kerberos)", image, f["DestinationIp"]),
			Host:     ev.GetHost(),
			Time:     timestamppb.New(t.AsTime()),
			EventId:  "3",
			RecordId: ev.GetRecordId(),
			Fields:   detection.Pick(f, "Image", "ProcessGuid", "ProcessId", "User", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort"),
		}},
	}, t.AsTime())
	if ref := detection.UserRef(f["User"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
		a.Entities = append(a.Entities, ref)
	}
	return []*adjoinv1.Alert{a}
}
