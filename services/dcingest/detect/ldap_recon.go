package detect

import (
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/winevent"
)

// ldapReconFilters are LDAP filter fragments (lower case, spaces removed) that ask the
// directory for attack targets rather than for an application's own objects, with what they
// look for.
var ldapReconFilters = []struct{ fragment, target string }{
	{"serviceprincipalname=*", "accounts with SPNs (Kerberoasting targets)"},
	{"useraccountcontrol:1.2.840.113556.1.4.803:=4194304", "accounts without Kerberos pre-authentication (AS-REP roasting targets)"},
	{"useraccountcontrol:1.2.840.113556.1.4.803:=524288", "hosts with unconstrained delegation"},
	{"msds-allowedtodelegateto=*", "constrained delegation"},
	{"msds-allowedtoactonbehalfofotheridentity=*", "resource-based constrained delegation"},
	{"admincount=1", "protected (privileged) accounts"},
	{"ms-mcs-admpwd", "LAPS passwords"},
	{"objectclass=trusteddomain", "domain trusts"},
	{"objectcategory=grouppolicycontainer", "group policy objects"},
}

// LDAPRecon raises an alert when a client searches the directory with a filter that hunts for
// attack targets (Directory Service 1644, logged when "15 Field Engineering" diagnostics are
// on): accounts with SPNs or without pre-authentication, delegation, adminCount=1, LAPS
// passwords, trusts, GPOs — what PowerView, SharpHound, ldapdomaindump and Rubeus ask. The
// event's insertion strings are, in order, the client (address:port), the starting node and
// the filter (the 17th, on versions that log it, the account); named fields (Client, Filter,
// User) and the message text are read too.
//
// One alert per client address and episode (searches less than Window apart).
type LDAPRecon struct {
	// Episodes group the searches of one reconnaissance run, per client (default Window
	// 10 min).
	Episodes
	// MaxEvidence bounds the events kept as evidence per alert (default 50).
	MaxEvidence int

	evidenceCap detection.EvidenceCap
}

// NewLDAPRecon returns the detector with its defaults.
func NewLDAPRecon() *LDAPRecon {
	return &LDAPRecon{Episodes: episodesOf(10 * time.Minute), MaxEvidence: 50}
}

// Name implements detection.Detector.
func (d *LDAPRecon) Name() string { return "ldap-recon" }

// Detect implements detection.Detector.
func (d *LDAPRecon) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 1644 || !strings.EqualFold(ev.GetChannel(), "Directory Service") {
		return nil
	}
	f := ev.GetFields()
	client, filter := ldapReconSearch(f)
	folded := strings.ToLower(strings.ReplaceAll(filter, " ", ""))
	var targets []string
	for _, p := range ldapReconFilters {
		if strings.Contains(folded, p.fragment) {
			targets = append(targets, p.target)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	src := reconSource{IP: winevent.ClientAddress(ldapReconHost(client))}
	key := src.key()
	if key == "" {
		key = "client:" + entity.Fold(client)
	}
	id := entity.HashID(d.Name(), rsvcHost(ev.GetHost()), key, d.episode(key, ev.GetTime().AsTime()))
	what := "1644 LDAP search from " + client + " for " + strings.Join(targets, ", ") + ": " + strings.TrimSpace(filter)
	var evidence *adjoinv1.Evidence
	if d.evidenceCap.TakeOne(id, d.MaxEvidence) {
		evidence = reconEvidence(ev, what, "Data", "Client", "Filter", "StartingNode", "SearchScope", "User", "Message")
	}
	desc := "A client at " + client + " searched the directory on " + ev.GetHost() + " for " + strings.Join(targets, ", ") +
		", as domain reconnaissance tools do (filter " + strings.TrimSpace(filter) + ")."
	a := reconAlert(id, d.Name(), "LDAP reconnaissance of attack targets", desc, adjoinv1.Severity_SEVERITY_MEDIUM,
		[]string{"T1087.002"}, ev, evidence)
	user := strings.TrimSpace(f["User"])
	if user == "" {
		user = domInsertion(f, 16) // the searching account, on versions that log it
	}
	a.Entities = detection.Refs(detection.UserRef(user, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR), src.ref(),
		detection.HostRef(ev.GetHost(), adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST))
	return []*adjoinv1.Alert{a}
}

// ldapReconSearch reads the client and the filter of a 1644.
func ldapReconSearch(f map[string]string) (client, filter string) {
	client, filter = strings.TrimSpace(f["Client"]), strings.TrimSpace(f["Filter"])
	if filter == "" {
		client, filter = domInsertion(f, 0), domInsertion(f, 2)
	}
	if filter == "" {
		// The rendered message: "Client:\r\n10.0.0.5:50123\r\nStarting node:\r\n…\r\nFilter:\r\n (…)\r\n…"
		client, filter = ldapReconLine(f["Message"], "Client:"), ldapReconLine(f["Message"], "Filter:")
	}
	return client, filter
}

// ldapReconLine is the line after label in msg.
func ldapReconLine(msg, label string) string {
	i := strings.Index(msg, label)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(msg[i+len(label):], "\r\n")
	if j := strings.IndexAny(rest, "\r\n"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

// ldapReconHost strips the port from a 1644 client ("10.0.0.5:50123", "[fe80::1]:50123").
func ldapReconHost(client string) string {
	if strings.HasPrefix(client, "[") {
		if i := strings.Index(client, "]"); i > 0 {
			return client[1:i]
		}
	}
	if strings.Count(client, ":") == 1 {
		return client[:strings.IndexByte(client, ':')]
	}
	return client
}
