package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// The WinRM service's own log on the target (Microsoft-Windows-WinRM/Operational) is the third
// sign of WinRMRemoteShell:
//
//   - 169 "User X authenticated successfully using Kerberos/NTLM": who connected;
//   - 91 "Creating WSMan shell on server with ResourceUri ...": a remote shell (PowerShell
//     remoting, winrs, Enter-PSSession) was opened. Recent Windows append the caller to the
//     URI: "http://schemas.microsoft.com/powershell/Microsoft.PowerShell (CORP\eve clientIP:
//     10.0.0.9)".
//
// A 91 raises an alert naming the caller its URI carries, or else the user of the latest 169
// on the host within SessionWindow. A
// wsmprovhost.exe / winrshost.exe session alert on the same host within SessionWindow of such a
// 91 alert takes its id, so one shell seen in both logs is one alert.

// winrmOperationalChannel is the WinRM service's event log.
const winrmOperationalChannel = "Microsoft-Windows-WinRM/Operational"

type winrmAuth struct {
	at      time.Time
	account credAccessAccount
	ev      *adjoinv1.Evidence
}

type winrmShellAlert struct {
	at time.Time
	id string
}

// operational handles WinRM Operational 169 and 91.
func (d *WinRMRemoteShell) operational(ev *adjoinv1.Event, f map[string]string, t time.Time) []*adjoinv1.Alert {
	d.initOperational()
	host := rsvcHost(ev.GetHost())
	if ev.GetEventId() == 169 {
		name := eventFieldFold(f, "username")
		if name == "" { // a converter that kept only the rendered text
			name = winrmBetween(f["Message"], "User ", " authenticated")
		}
		account := credAccessAccountOf(name, "", "")
		if account.empty() || account.machine() || account.system() {
			return nil
		}
		d.auths.Put(host, winrmAuth{at: t, account: account, ev: credAccessEvidence(ev,
			"WinRM 169 "+account.String()+" authenticated with "+eventFieldFold(f, "authenticationMechanism"), "username", "authenticationMechanism")})
		return nil
	}
	uri := eventFieldFold(f, "resourceUri")
	if uri == "" {
		uri = winrmBetween(f["Message"]+"\n", "ResourceUri: ", "\n")
	}
	evidence := []*adjoinv1.Evidence{credAccessEvidence(ev, "WinRM 91 shell created on "+ev.GetHost()+" for "+uri, "resourceUri", "shellId")}
	var actor, source *adjoinv1.EntityRef
	who := "an unknown user"
	caller, ip := winrmCaller(uri)
	if account := credAccessAccountOf(caller, "", ""); !account.empty() && !account.machine() && !account.system() {
		actor, who = account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), account.String()
	} else if auth, ok := d.auths.Get(host); ok && t.Sub(auth.at) <= d.SessionWindow && auth.at.Sub(t) <= 5*time.Second {
		evidence = append([]*adjoinv1.Evidence{auth.ev}, evidence...)
		actor, who = auth.account.ref(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), auth.account.String()
	}
	if ip = winevent.ClientAddress(ip); ip != "" {
		source = credAccessSource{IP: ip}.ref()
	}
	id := entity.HashID(d.Name(), "wsman-shell", host, detection.EpisodeID(t))
	if prev, ok := d.shells.Get(host); ok && t.Sub(prev.at) <= d.SessionWindow && prev.at.Sub(t) <= d.SessionWindow {
		id = prev.id
	} else {
		d.shells.Put(host, winrmShellAlert{at: t, id: id})
	}
	a := credAccessAlert(id, d.Name(), "WinRM remote shell created (WinRM Operational 91)",
		who+" opened a WinRM shell ("+uri+") on "+ev.GetHost()+": commands sent over WinRM run there.",
		adjoinv1.Severity_SEVERITY_HIGH, "T1021.006", ev, time.Time{}, evidence)
	a.KillChainPhase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	a.Entities = credAccessEntities(actor, source, detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// shellID returns the id of a WinRM Operational alert raised on host within SessionWindow of
// t, for a session alert of the same shell; or def.
func (d *WinRMRemoteShell) shellID(host string, t time.Time, def string) string {
	if d.shells == nil {
		return def
	}
	if prev, ok := d.shells.Get(host); ok && t.Sub(prev.at) <= d.SessionWindow && prev.at.Sub(t) <= d.SessionWindow {
		return prev.id
	}
	return def
}

func (d *WinRMRemoteShell) initOperational() {
	if d.auths == nil {
		d.auths = bounded.NewMap[string, winrmAuth](d.MaxSessions)
		d.shells = bounded.NewMap[string, winrmShellAlert](d.MaxSessions)
	}
}

// winrmCaller returns the account and address a 91 URI ends with ("... (CORP\eve clientIP:
// 10.0.0.9)"), or "" for each part that is absent.
func winrmCaller(uri string) (account, ip string) {
	open := strings.LastIndexByte(uri, '(')
	if open < 0 {
		return "", ""
	}
	inner := strings.TrimSuffix(strings.TrimSpace(uri[open+1:]), ")")
	account = inner
	if i := strings.Index(strings.ToLower(inner), "clientip:"); i >= 0 {
		account, ip = inner[:i], strings.TrimSpace(inner[i+len("clientip:"):])
	}
	return strings.TrimSpace(account), ip
}

// winrmBetween is the text of s between the first before and the next after, trimmed; "" when
// either is missing.
func winrmBetween(s, before, after string) string {
	i := strings.Index(s, before)
	if i < 0 {
		return ""
	}
	rest := s[i+len(before):]
	j := strings.Index(rest, after)
	if j < 0 {
		return ""
	}
	return strings.TrimSpace(rest[:j])
}

// eventFieldFold reads an EventData value whatever the case of its name (WinRM's EVTX names
// are lower camel case, username and resourceUri; converters of UserData vary too).
func eventFieldFold(f map[string]string, name string) string {
	if v, ok := f[name]; ok {
		return strings.TrimSpace(v)
	}
	for k, v := range f {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
