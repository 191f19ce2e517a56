package detect

import (
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// Replication extended rights whose use by a non-DC account is a DCSync.
var replicationRights = map[string]string{
	"1131f6aa-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes",
	"1131f6ad-9c07-11d1-f79f-00c04fc2dcd2": "DS-Replication-Get-Changes-All",
	"89e95b76-444d-4c62-991a-0facbeda640c": "DS-Replication-Get-Changes-In-Filtered-Set",
}

// DomainControllers answers whether a machine account belongs to a domain controller. known is
// false when the directory does not know the account at all.
type DomainControllers interface {
	IsDomainController(domain, sam string) (isDC, known bool)
}

// DCSync raises an alert when an account that is not a domain controller uses the directory
// replication rights (Security 4662 on a DS object with the replication GUIDs): the
// DRSGetNCChanges call mimikatz, Covenant and Empire make to pull password hashes.
//
// Machine accounts are trusted only when the directory says they are domain controllers; a
// machine account the directory does not know is skipped rather than alerted on, since without
// a directory every DC would look suspicious.
type DCSync struct {
	DCs      DomainControllers
	sessions *Sessions
}

// NewDCSync returns the detector. sessions (may be nil) supplies the source address of the
// logon session that made the request.
func NewDCSync(dcs DomainControllers, sessions *Sessions) *DCSync {
	return &DCSync{DCs: dcs, sessions: sessions}
}

// Name implements detection.Detector.
func (d *DCSync) Name() string { return "dcsync" }

// Detect implements detection.Detector.
func (d *DCSync) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4662 || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	rights := usedRights(f["Properties"])
	if len(rights) == 0 {
		return nil
	}
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	if user == "" || sid == "S-1-5-18" {
		return nil
	}
	if entity.IsMachineAccount(user) {
		isDC, known := false, false
		if d.DCs != nil {
			isDC, known = d.DCs.IsDomainController(domain, user)
		}
		if isDC || !known {
			return nil
		}
	}
	logonID := normHex(f["SubjectLogonId"])
	t := ev.GetTime()
	a := identityAlert(&adjoinv1.Alert{
		Id:              entity.HashID("dcsync", entity.Fold(ev.GetHost()), entity.NormalizeSID(sid), entity.DomainSAM(domain, user), logonID),
		Title:           "Suspected DCSync attack (replication of directory services)",
		Description:     user + " requested directory replication (" + strings.Join(rights, ", ") + ") from " + ev.GetHost() + " without being a domain controller.",
		Detector:        d.Name(),
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.006"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR, Sid: sid, SamAccountName: user, Domain: domain},
			detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		},
		Evidence: []*adjoinv1.Evidence{{
			Kind:     "windows-event",
			Summary:  "4662 " + user + " used " + strings.Join(rights, ", "),
			Host:     ev.GetHost(),
			Time:     timestamppb.New(t.AsTime()),
			EventId:  "4662",
			RecordId: ev.GetRecordId(),
			Fields:   detection.Pick(f, "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "AccessMask", "Properties", "ObjectName"),
		}},
	}, t.AsTime())
	if s, ok := d.sessions.Lookup(ev.GetHost(), logonID); ok && s.IP != "" {
		a.Entities = append(a.Entities, &adjoinv1.EntityRef{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: s.IP,
		})
	}
	return []*adjoinv1.Alert{a}
}

// usedRights returns the names of the replication rights a 4662 Properties value lists.
func usedRights(properties string) []string {
	p := strings.ToLower(properties)
	var out []string
	for _, guid := range []string{"1131f6aa-9c07-11d1-f79f-00c04fc2dcd2", "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2", "89e95b76-444d-4c62-991a-0facbeda640c"} {
		if strings.Contains(p, guid) {
			out = append(out, replicationRights[guid])
		}
	}
	return out
}

// normHex writes a hex logon id in one form, whatever padding the source used.
func normHex(s string) string {
	v, err := winevent.ParseHex(s)
	if err != nil {
		return entity.Fold(s)
	}
	return "0x" + strings.ToLower(strconvHex(v))
}
