package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// dcshadowSPNs are the SPN prefixes a machine needs to pass for a domain controller to its
// replication partners: the Global Catalog and the directory replication interface
// (DRSUAPI's UUID).
var dcshadowSPNs = []string{"gc/", "e3514235-4b06-11d1-ab04-00c04fc2dcd2/"}

// DCShadow raises an alert when a machine that is not a domain controller is registered as
// one, as mimikatz lsadump::dcshadow does before pushing changes by replication (which
// leave no 5136):
//
//   - Security 4742 whose ServicePrincipalNames hold a GC/ or E3514235-…/ SPN on a computer
//     account that is not a known DC;
//   - Security 5137 (directory object created) or 5141 (deleted) of an nTDSDSA object ("CN=NTDS
//     Settings" under a server of CN=Sites): the rogue DC's registration and its clean-up.
//
// A DC's own account is recognised as in dc-password-reset; a real promotion of a new DC
// raises this too (rare, and worth a look). One alert per rogue computer name and episode
// (events less than Window apart).
type DCShadow struct {
	// Episodes group the registration, push and clean-up of one attack, per name (default
	// Window 10 min).
	Episodes

	dir DomainControllers
}

// NewDCShadow returns the detector with its defaults.
func NewDCShadow(dir DomainControllers) *DCShadow {
	return &DCShadow{Episodes: episodesOf(10 * time.Minute), dir: dir}
}

// Name implements detection.Detector.
func (d *DCShadow) Name() string { return "dcshadow" }

// Detect implements detection.Detector.
func (d *DCShadow) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	id := ev.GetEventId()
	if (id != 4742 && id != 5137 && id != 5141) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	var rogue reconAccount
	var what string
	var keys []string
	if id == 4742 {
		spns := strings.ToLower(f["ServicePrincipalNames"])
		hit := ""
		for _, p := range dcshadowSPNs {
			if i := strings.Index(spns, p); i >= 0 {
				hit = p
				break
			}
		}
		rogue = domTarget(f)
		if hit == "" || rogue.empty() || domIsDCAccount(d.dir, ev.GetHost(), rogue.Domain, rogue.Sam) {
			return nil
		}
		what = "4742 " + rogue.String() + " given a domain controller SPN (" + strings.TrimSuffix(hit, "/") + "/…)"
		keys = []string{"TargetUserName", "TargetDomainName", "TargetSid", "ServicePrincipalNames", "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId"}
	} else {
		if !strings.EqualFold(strings.TrimSpace(f["ObjectClass"]), "nTDSDSA") {
			return nil
		}
		server := dcshadowServer(f["ObjectDN"])
		if server == "" {
			return nil
		}
		rogue = reconAccountOf(server+"$", f["SubjectDomainName"], "")
		rogue.Domain = ""
		if domIsDCAccount(d.dir, ev.GetHost(), "", rogue.Sam) {
			return nil
		}
		verb := "created"
		if id == 5141 {
			verb = "deleted"
		}
		what = reconEventID(ev) + " nTDSDSA object " + verb + " for server " + server + ": " + f["ObjectDN"]
		keys = []string{"ObjectDN", "ObjectClass", "ObjectGUID", "SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId"}
	}
	key := strings.TrimSuffix(rogue.Sam, "$")
	alertID := entity.HashID(d.Name(), key, d.episode(key, ev.GetTime().AsTime()))
	actor := reconSubject(f)
	actorRef := domActor(actor)
	desc := "DCShadow on " + ev.GetHost() + ": " + what + ". A rogue domain controller can push any change (SID history, group membership, passwords) by replication, unaudited."
	a := domAlert(alertID, d.Name(), "Rogue domain controller registered (DCShadow)", desc, adjoinv1.Severity_SEVERITY_HIGH,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE, []string{"T1207"}, ev, adjEvidence(ev, what, keys...),
		actorRef, domRef(rogue, adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// dcshadowServer is the server name in an nTDSDSA DN (CN=NTDS Settings,CN=NAME,CN=Servers,…),
// or "".
func dcshadowServer(dn string) string {
	parts := strings.SplitN(dn, ",", 4)
	if len(parts) < 3 || !strings.EqualFold(strings.TrimSpace(parts[2]), "CN=Servers") {
		return ""
	}
	rdn := strings.TrimSpace(parts[1])
	if len(rdn) < 4 || !strings.EqualFold(rdn[:3], "CN=") {
		return ""
	}
	return strings.TrimSpace(rdn[3:])
}
