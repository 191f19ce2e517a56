package detect

import (
	"strings"
	"sync"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// DPAPIBackupKey raises an alert when an account reads the domain's DPAPI backup keys from a
// domain controller (mimikatz lsadump::backupkeys, SharpDPAPI backupkey): Security 4662 on the
// LSA secret objects Policy\Secrets\G$BCKUPKEY_* (ObjectServer LSA, ObjectType SecretObject)
// by a user rather than the DC itself. With those keys every user's DPAPI-protected secrets
// in the domain (browser passwords, credential vaults, certificates) can be decrypted offline.
// Members ask the DC to unwrap their own keys through the BackupKey RPC, which the DC serves
// as itself and which never opens the secrets as the caller.
//
// The 5145 named-pipe opens of the same logon session (lsarpc, protected_storage) are
// evidence. One alert per DC and logon session: the four secrets one dump reads are one alert.
type DPAPIBackupKey struct {
	// MaxSessions bounds the logon sessions remembered for their pipe opens.
	MaxSessions int
	// MaxPipes bounds the pipe opens kept per session.
	MaxPipes int

	sessions *Sessions

	mu    sync.Mutex
	pipes *bounded.Map[string, []*adjoinv1.Evidence]
}

// NewDPAPIBackupKey returns the detector remembering 10000 sessions and 4 pipe opens each;
// sessions (may be nil) supplies the source address of the reading session.
func NewDPAPIBackupKey(sessions *Sessions) *DPAPIBackupKey {
	return &DPAPIBackupKey{MaxSessions: 10_000, MaxPipes: 4, sessions: sessions}
}

// Name implements detection.Detector.
func (d *DPAPIBackupKey) Name() string { return "dpapi-backup-key" }

// Detect implements detection.Detector.
func (d *DPAPIBackupKey) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if (ev.GetEventId() != 4662 && ev.GetEventId() != 5145) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	if ev.GetEventId() == 5145 {
		pipe := strings.ToLower(strings.Trim(f["RelativeTargetName"], `\`))
		if pipe == "lsarpc" || pipe == "protected_storage" {
			d.pipe(ev)
		}
		return nil
	}
	obj := strings.ToUpper(f["ObjectName"])
	if !strings.Contains(obj, `G$BCKUPKEY`) || !strings.EqualFold(f["ObjectType"], "SecretObject") {
		return nil
	}
	user, domain, sid := f["SubjectUserName"], f["SubjectDomainName"], f["SubjectUserSid"]
	actor := adjUser(sid, user, domain, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
	if actor == nil || entity.IsMachineAccount(user) {
		return nil // the DC's own lsass serving BackupKey requests
	}
	logonID := normHex(f["SubjectLogonId"])
	secret := f["ObjectName"][strings.LastIndex(f["ObjectName"], `\`)+1:]
	a := credAccessAlert(entity.HashID(d.Name(), rsvcHost(ev.GetHost()), logonID, entity.DomainSAM(domain, user)), d.Name(),
		"DPAPI domain backup key read from a domain controller",
		domain+`\`+user+" read the DPAPI domain backup key secret "+secret+" on "+ev.GetHost()+
			": every domain user's DPAPI-protected secrets can now be decrypted offline.",
		adjoinv1.Severity_SEVERITY_HIGH, "T1003.004", ev, ev.GetTime().AsTime(),
		[]*adjoinv1.Evidence{adjEvidence(ev, "4662 "+user+" read LSA secret "+secret,
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName", "AccessMask", "OperationType")})
	a.Evidence = append(d.takePipes(ev.GetHost(), logonID), a.Evidence...)
	a.Entities = credAccessEntities(actor, credAccessDC(ev))
	if s, ok := d.sessions.Lookup(ev.GetHost(), logonID); ok && s.IP != "" {
		a.Entities = append(a.Entities, credAccessSource{IP: s.IP}.ref())
	}
	return []*adjoinv1.Alert{a}
}

// pipe remembers a pipe open of a session for the alert that may follow.
func (d *DPAPIBackupKey) pipe(ev *adjoinv1.Event) {
	f := ev.GetFields()
	key := rsvcKey(ev.GetHost(), normHex(f["SubjectLogonId"]))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pipes == nil {
		d.pipes = bounded.NewMap[string, []*adjoinv1.Evidence](d.MaxSessions)
	}
	list, _ := d.pipes.Get(key)
	if len(list) >= d.MaxPipes {
		return
	}
	e := adjEvidence(ev, "5145 "+f["SubjectUserName"]+" opened pipe "+f["RelativeTargetName"]+" from "+winAddr(f["IpAddress"]),
		"SubjectUserName", "SubjectDomainName", "SubjectLogonId", "ShareName", "RelativeTargetName", "IpAddress", "AccessMask")
	d.pipes.Put(key, append(list, e))
}

func (d *DPAPIBackupKey) takePipes(host, logonID string) []*adjoinv1.Evidence {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pipes == nil {
		return nil
	}
	list, _ := d.pipes.Get(rsvcKey(host, logonID))
	return append([]*adjoinv1.Evidence(nil), list...)
}

func winAddr(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}
