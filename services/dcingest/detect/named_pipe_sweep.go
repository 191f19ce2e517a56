package detect

import (
	"strconv"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// NamedPipeSweep raises an alert when one source opens many distinct named pipes on a host's
// IPC$ within a short window (Security 5145, ShareName IPC$, RelativeTargetName the pipe):
// the probe of RPC interfaces that scanners and coercion tools make (which of spoolss,
// efsrpc, lsarpc, netlogon, srvsvc, atsvc… answers). Ordinary clients open a handful of pipes
// (samr, lsarpc, netlogon, srvsvc); computer accounts and local system identities are skipped.
//
// The source is the client address (5145 IpAddress) or, without one, the account. One alert
// per source, host and burst episode.
type NamedPipeSweep struct {
	// Threshold is how many distinct pipes one source must open on one host within Window
	// (default 8).
	Threshold int
	// Window is the sliding window of event time (default 1 min).
	Window time.Duration
	// MaxKeys bounds the sources tracked at once (default 10 000).
	MaxKeys int
	// MaxEvidence bounds the events kept as evidence per alert (default 50).
	MaxEvidence int

	burst       *detection.Burst
	evidenceCap detection.EvidenceCap
}

// NewNamedPipeSweep returns the detector with its defaults.
func NewNamedPipeSweep() *NamedPipeSweep {
	return &NamedPipeSweep{Threshold: 8, Window: time.Minute, MaxKeys: 10_000, MaxEvidence: 50}
}

// Name implements detection.Detector.
func (d *NamedPipeSweep) Name() string { return "named-pipe-sweep" }

// Detect implements detection.Detector.
func (d *NamedPipeSweep) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	pipe := reconPipe(ev)
	if pipe == "" {
		return nil
	}
	f := ev.GetFields()
	actor := reconSubject(f)
	if actor.machine() || actor.system() {
		return nil
	}
	src := reconSource{IP: winevent.ClientAddress(f["IpAddress"])}
	who := src.key()
	if who == "" {
		if actor.empty() {
			return nil
		}
		who = "account:" + actor.key()
	}
	nb, _ := entity.HostNames(ev.GetHost())
	key := nb + "|" + who
	if d.burst == nil {
		d.burst = &detection.Burst{Window: d.Window, Threshold: d.Threshold, MaxKeys: d.MaxKeys}
	}
	ep := d.burst.Add(key, pipe, ev.GetTime().AsTime())
	if !ep.Active {
		return nil
	}
	id := entity.HashID(d.Name(), key, detection.EpisodeID(ep.Start))
	desc := src.String() + " (" + actor.String() + ") opened " + strconv.Itoa(ep.Distinct) + " distinct named pipes on " + ev.GetHost() +
		" within " + d.Window.String() + ": a sweep of the host's RPC interfaces."
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, `5145 `+actor.String()+` opened \PIPE\`+pipe+" on IPC$",
			"SubjectUserName", "SubjectDomainName", "SubjectUserSid", "SubjectLogonId", "IpAddress", "IpPort", "ShareName", "RelativeTargetName", "AccessMask")
	}
	a := reconAlert(id, d.Name(), "Named pipe sweep over SMB", desc, adjoinv1.Severity_SEVERITY_MEDIUM, []string{"T1046"}, ev, evidence)
	actorRef := domActor(actor)
	a.Entities = detection.Refs(actorRef, src.ref(), detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}
