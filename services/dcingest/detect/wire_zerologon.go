package detect

import (
	"strconv"
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// WireZerologon raises an alert when one client calls NetrServerAuthenticate (2 or 3) on a
// domain controller's Netlogon interface Threshold times within Window: the Zerologon exploit
// (CVE-2020-1472) retries the authentication with an all-zero credential until, about once in
// 256 tries, it succeeds; a real secure channel authenticates once (T1210). Read from
// dce_rpc records of the sensor or of Zeek.
type WireZerologon struct {
	// Threshold is how many authentication calls from one client to one server within
	// Window raise the alert (default 10).
	Threshold int
	// ZeekEpisodes key alerts by client and server (defaults: Window 1 min, 50 calls).
	ZeekEpisodes
}

// NewWireZerologon returns the detector with its defaults.
func NewWireZerologon() *WireZerologon {
	return &WireZerologon{Threshold: 10, ZeekEpisodes: zeekEpisodesOf(time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *WireZerologon) Name() string { return "wire-zerologon" }

// Detect implements detection.Detector.
func (d *WireZerologon) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "dce_rpc")
	if !ok || !strings.EqualFold(r.f["endpoint"], "netlogon") || !strings.HasPrefix(r.f["operation"], "NetrServerAuthenticate") {
		return nil
	}
	threshold := zeekOr(d.Threshold, 10)
	return d.raise(d.Name(), r, zeekFinding{
		subject: r.f["operation"] + "|" + r.t.Format(time.RFC3339Nano),
		title:   "Repeated Netlogon authentication attempts (Zerologon)",
		desc: r.origH + " called " + r.f["operation"] + " on " + r.respH + " at least " + strconv.Itoa(threshold) +
			" times within " + zeekOr(d.Window, time.Minute).String() + ", as the Zerologon exploit (CVE-2020-1472) does (" + zeekSource(r) + ").",
		severity: adjoinv1.Severity_SEVERITY_HIGH,
		phase:    adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION,
		mitre:    []string{"T1210"},
		summary:  "dce_rpc netlogon " + r.f["operation"] + " " + r.conn(),
		keys:     []string{"endpoint", "operation"},
	}, time.Minute, threshold, r.uid+"|"+r.t.Format(time.RFC3339Nano)) // every call is a distinct value
}
