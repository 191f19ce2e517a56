package detect

import (
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// ZeekRemoteServiceCreation raises an alert when dce_rpc shows a client creating or
// reconfiguring a Windows service on another host over the service control manager's RPC
// interface (svcctl CreateService*, ChangeServiceConfig*), over TCP or the \PIPE\svcctl named
// pipe: the remote execution of PsExec, Impacket's psexec/smbexec, Empire's Invoke-PsExec and
// Covenant's SharpSC (T1569.002, T1021.002). Whatever the transport, the host logs see only
// the installed service; this sees who asked, from where.
//
// One alert per client, target and episode (calls less than Window apart).
type ZeekRemoteServiceCreation struct {
	// ZeekEpisodes key alerts by client and target (defaults: Window 10 min, 50 calls as
	// evidence).
	ZeekEpisodes
}

// NewZeekRemoteServiceCreation returns the detector with its defaults.
func NewZeekRemoteServiceCreation() *ZeekRemoteServiceCreation {
	return &ZeekRemoteServiceCreation{ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *ZeekRemoteServiceCreation) Name() string { return "zeek-remote-service-creation" }

// Detect implements detection.Detector.
func (d *ZeekRemoteServiceCreation) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "dce_rpc")
	if !ok || !strings.EqualFold(r.f["endpoint"], "svcctl") {
		return nil
	}
	op := strings.TrimSpace(r.f["operation"])
	if !strings.HasPrefix(op, "CreateService") && !strings.HasPrefix(op, "ChangeServiceConfig") {
		return nil
	}
	via := "TCP"
	if p := r.f["named_pipe"]; p != "" {
		via = `\PIPE\` + p
	}
	return d.raise(d.Name(), r, zeekFinding{
		subject: op,
		title:   "Service created on a remote host over RPC (svcctl)",
		desc: r.origH + zeekWho(r) + " called " + op + " on the service control manager of " + r.respH + " over " + via +
			", installing or changing a service remotely as PsExec-style tools do (" + zeekSource(r) + " on " + r.conn() + ").",
		severity: adjoinv1.Severity_SEVERITY_HIGH,
		phase:    adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
		mitre:    []string{"T1569.002", "T1021.002"},
		user:     zeekClientRef(r, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		summary:  "dce_rpc svcctl " + op + " " + r.conn(),
		keys:     []string{"endpoint", "operation", "named_pipe", "client"},
	}, 10*time.Minute, 1, "")
}
