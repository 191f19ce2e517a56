package detect

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/bounded"
	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// DCOM objects that live in an existing process (ShellWindows and ShellBrowserWindow run in the
// user's explorer.exe) start commands as that process's child, in the desktop user's session,
// so neither the parent's command line nor the session shows the remote caller. What does is
// the DCOM call itself: Sysmon 3 records the server process accepting a connection from
// another host. A shell, script host or launcher started by such a process within
// InboundWindow of an inbound connection is remote execution.

// remoteSpawnInbound is an inbound connection accepted by a DCOM server process.
type remoteSpawnInbound struct {
	at       time.Time
	ip       string
	evidence *adjoinv1.Evidence
}

// inbound remembers a Sysmon 3 connection accepted from another host by one of the
// InboundServers.
func (d *RemoteSpawn) inbound(ev *adjoinv1.Event) {
	f := ev.GetFields()
	image := detection.BaseName(f["Image"])
	if !d.InboundServers[image] || strings.EqualFold(strings.TrimSpace(f["Initiated"]), "true") {
		return
	}
	ip := winevent.ClientAddress(f["SourceIp"])
	if ip == "" {
		return
	}
	if d.conns == nil {
		d.conns = bounded.NewMap[string, remoteSpawnInbound](d.MaxSessions)
	}
	t := ev.GetTime().AsTime()
	d.conns.Put(pthKey(ev.GetHost(), 0)+"|"+image, remoteSpawnInbound{at: t, ip: ip, evidence: &adjoinv1.Evidence{
		Kind: "sysmon", Host: ev.GetHost(), Time: timestamppb.New(t), EventId: "3", RecordId: ev.GetRecordId(),
		Summary: fmt.Sprintf("3 %s accepted a connection from %s:%s on port %s", image, ip, f["SourcePort"], f["DestinationPort"]),
		Fields:  detection.Pick(f, "Image", "ProcessGuid", "User", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort", "Initiated"),
	}})
}

// inboundFor returns the inbound connection the server process parent accepted within
// InboundWindow before t (2 s of clock skew the other way allowed), if any.
func (d *RemoteSpawn) inboundFor(host, parent string, t time.Time) (remoteSpawnInbound, bool) {
	if d.conns == nil {
		return remoteSpawnInbound{}, false
	}
	c, ok := d.conns.Get(pthKey(host, 0) + "|" + parent)
	if !ok || t.Sub(c.at) > d.InboundWindow || c.at.Sub(t) > 2*time.Second {
		return remoteSpawnInbound{}, false
	}
	return c, true
}
