package detect

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// wait remembers a session's alert until an NTLM authentication of its outbound account from
// its host shows the credentials used.
func (d *PassTheHash) wait(outbound, host string, a *adjoinv1.Alert) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting == nil {
		d.waiting = bounded.NewMap[string, *adjoinv1.Alert](d.MaxSessions)
	}
	d.waiting.Put(pthUseKey(outbound, host), proto.Clone(a).(*adjoinv1.Alert))
}

// used handles a 4776 or a 4624 type 3 NTLM: when it authenticates the outbound account of a
// waiting session from that session's host within Window, the session's alert comes again,
// high, with this event as evidence. Each session is raised once.
func (d *PassTheHash) used(ev *adjoinv1.Event) *adjoinv1.Alert {
	f := ev.GetFields()
	user, workstation := f["TargetUserName"], f["Workstation"]
	if ev.GetEventId() == 4624 {
		if strings.TrimSpace(f["LogonType"]) != "3" || !strings.EqualFold(strings.TrimSpace(f["AuthenticationPackageName"]), "NTLM") {
			return nil
		}
		workstation = f["WorkstationName"]
	} else if status, err := winevent.ParseHex(f["Status"]); err != nil || status != 0 {
		return nil
	}
	if user == "" || workstation == "" || workstation == "-" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiting == nil {
		return nil
	}
	key := pthUseKey(user, workstation)
	a, ok := d.waiting.Get(key)
	if !ok || a == nil {
		return nil
	}
	since := ev.GetTime().AsTime().Sub(a.GetFirstActivity().AsTime())
	if since < 0 || since > d.Window {
		return nil
	}
	d.waiting.Put(key, nil) // raised: later authentications add nothing
	out := proto.Clone(a).(*adjoinv1.Alert)
	out.Severity = adjoinv1.Severity_SEVERITY_HIGH
	out.LastActivity, out.UpdatedTime = ev.GetTime(), timestamppb.New(ev.GetTime().AsTime())
	out.Description += " " + user + " then authenticated with NTLM from " + workstation + " on " + ev.GetHost() + ": the injected credentials were used."
	out.Evidence = append(out.Evidence, adjEvidence(ev, "NTLM authentication of "+user+" from "+workstation,
		"TargetUserName", "TargetDomainName", "Workstation", "WorkstationName", "IpAddress", "LogonType", "AuthenticationPackageName", "Status", "PackageName"))
	return out
}

// pthUseKey joins an outbound account and the host it is used from: the sAMAccountName and
// the NetBIOS name, whatever forms the events write.
func pthUseKey(user, host string) string {
	_, sam := entity.SplitAccount(user)
	nb, _ := entity.HostNames(host)
	return sam + "|" + nb
}
