package detect

import (
	"strconv"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// zeekEnumerationOperations are the SAMR and LSARPC calls that list or describe accounts,
// groups and domains, as Zeek's dce_rpc.log names them. Plumbing (SamrConnect5,
// SamrOpenDomain, SamrLookupDomainInSamServer, the Close calls, LsarOpenPolicy2) and plain
// name/SID translation (LsarLookupNames*, LsarLookupSids*, which every client makes) are
// left out.
var zeekEnumerationOperations = []string{
	"SamrEnumerateDomainsInSamServer", "SamrEnumerateUsersInDomain", "SamrEnumerateGroupsInDomain",
	"SamrEnumerateAliasesInDomain", "SamrQueryDisplayInformation", "SamrQueryDisplayInformation2",
	"SamrQueryDisplayInformation3", "SamrGetMembersInGroup", "SamrGetMembersInAlias",
	"SamrGetAliasMembership", "SamrGetGroupsForUser", "SamrLookupNamesInDomain", "SamrLookupIdsInDomain",
	"SamrQueryInformationUser", "SamrQueryInformationUser2", "SamrQueryInformationGroup",
	"SamrQueryInformationAlias", "SamrQueryInformationDomain", "SamrQueryInformationDomain2",
	"SamrQuerySecurityObject", "SamrGetUserDomainPasswordInformation",
	"LsarEnumerateTrustedDomains", "LsarEnumerateTrustedDomainsEx", "LsarEnumerateAccounts",
	"LsarEnumerateAccountsWithUserRight", "LsarEnumeratePrivileges", "LsarQueryTrustedDomainInfo",
}

// ZeekSAMREnumeration raises an alert when one client address makes a burst of distinct SAMR
// and LSARPC enumeration calls (Zeek dce_rpc.log, endpoints samr and lsarpc): the account,
// group and trust discovery of `net user /domain`, `net group /domain`, PowerView, BloodHound
// and Impacket's samrdump (T1087.002). Distinct operations are counted, not calls, so that a
// client repeating one lookup does not trip it.
//
// The address is the key, not the user: dce_rpc.log does not name the account. One alert
// per client and episode; every counted call of the episode, from any sensor, maps to it.
type ZeekSAMREnumeration struct {
	// Threshold is how many distinct enumeration operations one client must call within
	// Window (default 5).
	Threshold int
	// Operations are the calls counted, compared without case (default
	// zeekEnumerationOperations).
	Operations []string
	// ZeekEpisodes key alerts by client (defaults: Window 1 min, a sliding window of event
	// time; 50 calls as evidence).
	ZeekEpisodes

	ops map[string]bool
}

// NewZeekSAMREnumeration returns the detector with its defaults.
func NewZeekSAMREnumeration() *ZeekSAMREnumeration {
	return &ZeekSAMREnumeration{
		Threshold:    5,
		Operations:   append([]string(nil), zeekEnumerationOperations...),
		ZeekEpisodes: zeekEpisodesOf(time.Minute, 50),
	}
}

// Name implements detection.Detector.
func (d *ZeekSAMREnumeration) Name() string { return "zeek-samr-enumeration" }

// Detect implements detection.Detector.
func (d *ZeekSAMREnumeration) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "dce_rpc")
	if !ok {
		return nil
	}
	endpoint := strings.ToLower(strings.TrimSpace(r.f["endpoint"]))
	if endpoint != "samr" && endpoint != "lsarpc" {
		return nil
	}
	if d.start(time.Minute, zeekOr(d.Threshold, 5)) {
		d.ops = map[string]bool{}
		for _, o := range d.Operations {
			d.ops[strings.ToLower(o)] = true
		}
	}
	op := strings.TrimSpace(r.f["operation"])
	if !d.ops[strings.ToLower(op)] {
		return nil
	}
	subject := strings.ToLower(op)
	if first, isCopy := d.copies.copyOf(r, subject); isCopy {
		return first.alerts()
	}
	ep := d.burst.Add(r.origH, subject, r.t)
	if !ep.Active {
		d.copies.remember(r, subject, nil)
		return nil
	}
	id := entity.HashID(d.Name(), r.origH, detection.EpisodeID(ep.Start))
	a := &adjoinv1.Alert{
		Id:       id,
		Title:    "Domain account enumeration over SAMR/LSARPC (network)",
		Detector: d.Name(),
		Description: r.origH + " made " + strconv.Itoa(ep.Distinct) + " distinct SAMR/LSARPC enumeration calls to " + r.respH +
			" within " + d.burst.Window.String() + " (Zeek dce_rpc), as account and group discovery tools do.",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE,
		MitreTechniques: []string{"T1087.002"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        detection.Refs(r.sourceRef(), r.targetRef()),
	}
	a = d.finish(a, r, subject, func() *adjoinv1.Evidence {
		return r.evidence("dce_rpc "+endpoint+" "+op+" "+r.conn(), "endpoint", "operation", "named_pipe")
	})
	return []*adjoinv1.Alert{a}
}
