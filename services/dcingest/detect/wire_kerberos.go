package detect

import (
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// The wire-only Kerberos detectors read what only the request shows, and only the DC traffic
// sensor records: the etypes a client offered ("req_etypes") and whether it sent
// pre-authentication ("preauth"). Zeek's kerberos.log has neither, so on Zeek records they
// stay silent.

// wireKerberos is a kerberos record of the DC traffic sensor with its client account.
type wireKerberos struct {
	zeekRecord
	kind          string // AS or TGS
	sam, realm    string
	etypes        []string
	weakOnly      bool // offered RC4 or DES and no AES etype
	service, user string
}

// wireKerberosOf returns the record when ev is a sensor kerberos record for a user account
// (computer accounts and tickets without a client name are left out).
func wireKerberosOf(ev *adjoinv1.Event) (wireKerberos, bool) {
	r, ok := zeekRecordOf(ev, "kerberos")
	if !ok {
		return wireKerberos{}, false
	}
	offered, has := r.f["req_etypes"]
	if !has {
		return wireKerberos{}, false
	}
	k := wireKerberos{zeekRecord: r, kind: strings.ToUpper(r.f["request_type"]), service: r.f["service"], user: r.f["client"]}
	k.sam, k.realm = zeek.SplitPrincipal(r.f["client"])
	if k.sam == "" || strings.HasSuffix(k.sam, "$") {
		return wireKerberos{}, false
	}
	if offered != "" {
		k.etypes = strings.Split(offered, ",")
	}
	weak, strong := false, false
	for _, e := range k.etypes {
		switch strings.TrimSpace(e) {
		case "17", "18", "19", "20":
			strong = true
		case "23", "24", "1", "3":
			weak = true
		}
	}
	k.weakOnly = weak && !strong
	return k, true
}

// userRef is the client account.
func (k wireKerberos) userRef(role adjoinv1.EntityRole) *adjoinv1.EntityRef {
	return &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: role, SamAccountName: k.sam, Domain: k.realm}
}

func (k wireKerberos) finding(title, desc string, sev adjoinv1.Severity, mitre ...string) zeekFinding {
	return zeekFinding{
		key: k.realm + `\` + k.sam, subject: k.kind + "|" + k.user + "|" + k.service, title: title, desc: desc,
		severity: sev, phase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, mitre: mitre,
		user:    k.userRef(adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
		summary: "kerberos " + k.kind + " " + k.user + " " + k.service + " etypes " + strings.Join(k.etypes, ","),
		keys:    []string{"request_type", "client", "service", "req_etypes", "preauth", "cipher", "reply_cipher", "success", "error_msg"},
	}
}

// WireASREPRoasting raises an alert when a KDC answers an AS-REQ that carried no
// pre-authentication with a TGT (AS-REP) for a user account: the account does not require
// pre-authentication and its AS-REP, encrypted with the user's key, can be cracked offline
// (T1558.004). High when the reply is RC4, the etype roasting tools ask for.
type WireASREPRoasting struct{ ZeekEpisodes }

// NewWireASREPRoasting returns the detector with its defaults (Window 10 min).
func NewWireASREPRoasting() *WireASREPRoasting {
	return &WireASREPRoasting{ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *WireASREPRoasting) Name() string { return "wire-asrep-roasting" }

// Detect implements detection.Detector.
func (d *WireASREPRoasting) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	k, ok := wireKerberosOf(ev)
	if !ok || k.kind != "AS" || k.f["preauth"] != "F" || k.f["success"] != "T" {
		return nil
	}
	sev := adjoinv1.Severity_SEVERITY_MEDIUM
	if strings.HasPrefix(k.f["reply_cipher"], "rc4") {
		sev = adjoinv1.Severity_SEVERITY_HIGH
	}
	return d.raise(d.Name(), k.zeekRecord, k.finding("TGT issued without pre-authentication (AS-REP roasting)",
		k.origH+" got a TGT for "+k.user+" from "+k.respH+" without pre-authentication; the reply ("+k.f["reply_cipher"]+
			") is encrypted with the account's key and can be cracked offline.", sev, "T1558.004"), 10*time.Minute, 1, "")
}

// WireKerberoasting raises an alert when a client asks for a service ticket for a user
// service (not a computer's, see zeekHostServiceClasses) offering only RC4 or DES: Windows
// always offers AES, Rubeus /tgtdeleg, Impacket's GetUserSPNs and PowerView ask for RC4 so
// the ticket cracks fast (T1558.003). zeek-kerberos-rc4-tgs sees the RC4 ticket a service
// without AES keys gets anyway; this sees the request that forces it.
type WireKerberoasting struct{ ZeekEpisodes }

// NewWireKerberoasting returns the detector with its defaults (Window 10 min).
func NewWireKerberoasting() *WireKerberoasting {
	return &WireKerberoasting{ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 100)}
}

// Name implements detection.Detector.
func (d *WireKerberoasting) Name() string { return "wire-kerberoasting-etype" }

// Detect implements detection.Detector.
func (d *WireKerberoasting) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	k, ok := wireKerberosOf(ev)
	if !ok || k.kind != "TGS" || !k.weakOnly || k.service == "" {
		return nil
	}
	class, _, _ := strings.Cut(k.service, "/")
	for _, c := range zeekHostServiceClasses {
		if strings.EqualFold(class, c) {
			return nil
		}
	}
	if strings.HasSuffix(strings.ToLower(k.service), "$") {
		return nil
	}
	return d.raise(d.Name(), k.zeekRecord, k.finding("Service ticket requested with RC4 only (Kerberoasting)",
		k.user+" from "+k.origH+" asked "+k.respH+" for a ticket for "+k.service+" offering only etypes "+k.f["req_etypes"]+
			"; Windows clients offer AES, roasting tools ask for RC4 because it cracks fast.",
		adjoinv1.Severity_SEVERITY_HIGH, "T1558.003"), 10*time.Minute, 1, "")
}

// WireOverpassTheHash raises an alert when a TGT is requested for a user offering only RC4
// (or DES) etypes with pre-authentication: the client holds the account's NT hash, not its
// password, and turns it into a TGT — mimikatz sekurlsa::pth and Rubeus asktgt /rc4
// (T1550.002). A Windows logon with the password always offers AES.
type WireOverpassTheHash struct{ ZeekEpisodes }

// NewWireOverpassTheHash returns the detector with its defaults (Window 10 min).
func NewWireOverpassTheHash() *WireOverpassTheHash {
	return &WireOverpassTheHash{ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 50)}
}

// Name implements detection.Detector.
func (d *WireOverpassTheHash) Name() string { return "wire-overpass-the-hash" }

// Detect implements detection.Detector.
func (d *WireOverpassTheHash) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	k, ok := wireKerberosOf(ev)
	if !ok || k.kind != "AS" || !k.weakOnly || k.f["preauth"] != "T" {
		return nil
	}
	sev := adjoinv1.Severity_SEVERITY_MEDIUM
	outcome := "the KDC refused it (" + k.f["error_msg"] + ")"
	if k.f["success"] == "T" {
		sev, outcome = adjoinv1.Severity_SEVERITY_HIGH, "the KDC issued it"
	}
	return d.raise(d.Name(), k.zeekRecord, k.finding("TGT requested with an RC4 key only (overpass-the-hash)",
		k.origH+" asked "+k.respH+" for a TGT for "+k.user+" offering only etypes "+k.f["req_etypes"]+
			" with pre-authentication, as a client holding the account's NT hash does; "+outcome+".",
		sev, "T1550.002"), 10*time.Minute, 1, "")
}
