package detect

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// SIDHistoryAdded raises an alert when SID history is written to an account (mimikatz
// sid::add / misc::addsid, DCShadow pushes, a migration tool used as a backdoor): the
// account then carries the privileges of the SIDs it lists, a Domain Admins or Enterprise
// Admins SID most of all. Sources: Security 4765 (SID history added), 4766 (an attempt
// failed), 4738 (user account changed) whose SidHistory is set, and 5136 sIDHistory value
// added. Windows writes "-" or %%1793 (<value not set>) in 4738 SidHistory when it did not
// change. One alert per account and episode (see AttributeWrite).
type SIDHistoryAdded struct {
	*AttributeWrite
}

// NewSIDHistoryAdded returns sid-history-added. accounts (may be nil) names a 5136's object
// by SID; sessions (may be nil) gives the source address of the change.
func NewSIDHistoryAdded(accounts AccountsByDN, sessions *Sessions) *SIDHistoryAdded {
	return &SIDHistoryAdded{newAttributeWrite("sid-history-added", "sIDHistory", "",
		"SID history added to an account",
		"the account now holds the privileges of every SID in its history", "T1134.005",
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE, accounts, sessions)}
}

// Detect implements detection.Detector.
func (d *SIDHistoryAdded) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	id := ev.GetEventId()
	if id == 5136 {
		return d.AttributeWrite.Detect(ev)
	}
	if (id != 4765 && id != 4766 && id != 4738) || !detection.IsSecurity(ev) {
		return nil
	}
	f := ev.GetFields()
	target := domTarget(f)
	if target.empty() {
		return nil
	}
	actor := reconSubject(f)
	var what string
	switch id {
	case 4765:
		what = "4765 SID history added to " + target.String() + " from " + f["SourceUserName"] + " (" + f["SourceSid"] + "): " + strings.TrimSpace(f["SidList"])
	case 4766:
		what = "4766 an attempt to add SID history to " + target.String() + " from " + f["SourceUserName"] + " failed"
	default:
		h := strings.TrimSpace(f["SidHistory"])
		if domDash(h) || h == "%%1793" {
			return nil
		}
		what = "4738 " + target.String() + " changed with SidHistory " + h
	}
	return d.alert(ev, target.key(), what, actor, domRef(target, adjoinv1.EntityRole_ENTITY_ROLE_TARGET),
		"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "TargetUserName", "TargetDomainName",
		"TargetSid", "SourceUserName", "SourceSid", "SidList", "SidHistory")
}
