package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/zeek"
)

// zeekHostServiceClasses are the SPN service classes Windows registers on every computer
// account (HOST and the classes it maps, RestrictedKrbHost, TERMSRV, WSMAN) or on every
// domain controller (ldap, GC, DNS, the DRS GUID), plus krbtgt. Tickets for them are
// encrypted with a computer's random key, so an RC4 one is a legacy setting, not a
// Kerberoasting target. HTTP is left out on purpose: service accounts often hold HTTP SPNs.
var zeekHostServiceClasses = []string{
	"krbtgt", "kadmin", "host", "cifs", "restrictedkrbhost", "termsrv", "wsman", "rpcss",
	"ldap", "gc", "dns", "e3514235-4b06-11d1-ab04-00c04fc2dcd2",
}

// ZeekKerberosRC4 raises an alert when Zeek's kerberos.log shows a service ticket (TGS)
// issued with RC4 encryption for a service that is not a computer's: the ticket a
// Kerberoasting tool asks for, because RC4 tickets crack far faster than AES ones
// (T1558.003). The cipher column is the etype of the ticket the KDC returned. A record with
// request_type unset counts as TGS, since some Zeek versions never fill it.
//
// Services whose class is in HostServices, and bare principals that name a computer account
// ("UTICA$", "utica$@DMEVALS.LOCAL", as in user-to-user requests), are skipped.
//
// One alert per client principal, source address and episode: the tickets one client asks
// for less than Window apart, from any sensor, belong to one alert with one evidence per
// service ticket.
type ZeekKerberosRC4 struct {
	// HostServices are the service classes (the SPN before its first "/", compared without
	// case) that are skipped; default zeekHostServiceClasses.
	HostServices []string
	// ZeekEpisodes key alerts by client (defaults: Window 10 min, 100 tickets as evidence).
	ZeekEpisodes
}

// NewZeekKerberosRC4 returns the detector with its defaults.
func NewZeekKerberosRC4() *ZeekKerberosRC4 {
	return &ZeekKerberosRC4{
		HostServices: append([]string(nil), zeekHostServiceClasses...),
		ZeekEpisodes: zeekEpisodesOf(10*time.Minute, 100),
	}
}

// Name implements detection.Detector.
func (d *ZeekKerberosRC4) Name() string { return "zeek-kerberos-rc4-tgs" }

// Detect implements detection.Detector.
func (d *ZeekKerberosRC4) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	r, ok := zeekRecordOf(ev, "kerberos")
	// Some Zeek versions leave request_type unset (every row of the LSASS_campaign_01
	// sample); a ticket for a service that is not krbtgt then still comes from a TGS exchange.
	if rt, set := r.f["request_type"]; !ok || (set && !strings.EqualFold(rt, "TGS")) || r.f["success"] == "F" {
		return nil
	}
	cipher := strings.ToLower(strings.TrimSpace(r.f["cipher"]))
	if !strings.HasPrefix(cipher, "rc4") && !strings.HasPrefix(cipher, "arcfour") {
		return nil
	}
	service := strings.TrimSpace(r.f["service"])
	if service == "" || d.hostService(service) {
		return nil
	}
	client := strings.TrimSpace(r.f["client"])
	sam, realm := zeek.SplitPrincipal(client)
	d.start(10*time.Minute, 1)
	subject := strings.ToLower(client + "|" + service)
	if first, isCopy := d.copies.copyOf(r, subject); isCopy {
		return first.alerts()
	}
	clientKey := realm + `\` + sam
	ep := d.burst.Add(r.origH+"|"+clientKey, "", r.t)
	id := entity.HashID(d.Name(), r.origH, clientKey, detection.EpisodeID(ep.Start))
	who := client
	if who == "" {
		who = "an unnamed client"
	}
	var user *adjoinv1.EntityRef
	if sam != "" {
		user = &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR, SamAccountName: sam, Domain: realm}
	}
	a := &adjoinv1.Alert{
		Id:       id,
		Title:    "Kerberos service ticket with RC4 encryption (possible Kerberoasting)",
		Detector: d.Name(),
		Description: who + " from " + r.origH + " was issued an RC4 (" + cipher + ") service ticket for " + service +
			" by " + r.respH + "; Kerberoasting tools ask for RC4 tickets because they crack offline far faster than AES ones.",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1558.003"},
		Severity:        adjoinv1.Severity_SEVERITY_MEDIUM,
		Entities:        detection.Refs(user, r.sourceRef(), r.targetRef()),
	}
	a = d.finish(a, r, subject, func() *adjoinv1.Evidence {
		return r.evidence("kerberos TGS "+service+" "+cipher+" for "+who, "request_type", "client", "service", "cipher", "success")
	})
	return []*adjoinv1.Alert{a}
}

// hostService reports whether a service name belongs to a computer: its SPN class is in
// HostServices, or it is a bare principal ending in "$".
func (d *ZeekKerberosRC4) hostService(service string) bool {
	class, _, isSPN := strings.Cut(service, "/")
	if !isSPN {
		name, _ := zeek.SplitPrincipal(service)
		return strings.HasSuffix(name, "$")
	}
	for _, c := range d.HostServices {
		if strings.EqualFold(class, c) {
			return true
		}
	}
	return false
}
