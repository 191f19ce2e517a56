package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{"when": when}

// when writes a time for people: UTC to the second, "never" for none.
func when(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() || ts.AsTime().IsZero() || ts.GetSeconds() == 0 {
		return "never"
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04:05Z")
}

// nameRow is one name the entity is known by.
type nameRow struct{ Label, Value string }

// sideView is one side's badge as GetBadge gives it, in words.
type sideView struct {
	Name   string // "Identity" or "Endpoint"
	ID     string // "identity" or "endpoint", for element ids
	Known  bool
	Reason string // why the badge is greyed, "" when it is live
	Total  int64
	Open   int64
	// Highest is the highest severity counted, "none" without alerts.
	Highest     string
	BySeverity  []nameRow
	First, Last string
	Link        string
}

// entityView is the entity page.
type entityView struct {
	Key, Name, Kind    string
	Names              []nameRow
	Privileged         bool
	Disabled           bool
	Identity, Endpoint sideView
	IntegrationEnabled bool
	Alerts             []alertRow
	Total              int32
	Next               string // the API's page token of older alerts
	Chart              template.HTML
	Path               string
	// Toggles are the sides' integration toggles (absent when the status could not be read).
	Toggles map[string]bool
	// Incidents are the incidents the entity belongs to (ListEntityIncidents), most recent
	// first; IncidentsError says why they could not be read.
	Incidents      []incidentRow
	IncidentsError string
}

// alertRow is one alert of the timeline.
type alertRow struct {
	Side, Severity, Status, Title, Detector, Source, First, Last string
	Techniques                                                   string
	Version                                                      int64
}

func newEntityView(b *adjoinv1.Badge, alerts *adjoinv1.ListEntityAlertsResponse) entityView {
	e := b.GetEntity()
	v := entityView{Key: e.GetKey(), Name: displayName(e), Kind: kindName(e.GetKind()), Privileged: e.GetPrivileged(),
		Disabled: e.GetDisabled(), Identity: newSideView(b.GetIdentity(), "Identity"), Endpoint: newSideView(b.GetEndpoint(), "Endpoint"),
		IntegrationEnabled: b.GetIntegrationEnabled(), Total: alerts.GetTotalSize(), Next: alerts.GetNextPageToken(), Path: entityPath(e.GetKey())}
	add := func(label, value string) {
		if value != "" {
			v.Names = append(v.Names, nameRow{label, value})
		}
	}
	if e.GetNetbiosDomain() != "" && e.GetSamAccountName() != "" {
		add(`DOMAIN\sAMAccountName`, e.GetNetbiosDomain()+`\`+e.GetSamAccountName())
	}
	add("UPN", e.GetUpn())
	add("SID", e.GetSid())
	add("objectGUID", e.GetObjectGuid())
	add("Host name", e.GetDnsHostName())
	add("NetBIOS name", e.GetNetbiosName())
	add("Distinguished name", e.GetDistinguishedName())
	add("Display name", e.GetDisplayName())
	add("Directory source", e.GetSource())
	for _, a := range alerts.GetAlerts() {
		v.Alerts = append(v.Alerts, alertRow{Side: sideName(a.GetSide()), Severity: severityName(a.GetSeverity()),
			Status: statusName(a.GetStatus()), Title: a.GetTitle(), Detector: a.GetDetector(), Source: a.GetSource(),
			First: when(a.GetFirstActivity()), Last: when(a.GetLastActivity()), Version: a.GetVersion(),
			Techniques: strings.Join(a.GetMitreTechniques(), ", ")})
	}
	v.Chart = chart(alerts.GetAlerts())
	return v
}

func newSideView(s *adjoinv1.SideBadge, name string) sideView {
	v := sideView{Name: name, ID: strings.ToLower(name), Known: s.GetKnown(), Total: s.GetTotal(), Open: s.GetOpen(),
		Highest: severityName(s.GetHighestSeverity()), First: when(s.GetFirstAlertTime()), Last: when(s.GetLastAlertTime()),
		Link: s.GetLink()}
	if !s.GetKnown() {
		v.Reason = reasonText(s.GetGreyedReason())
	}
	if s.GetTotal() == 0 {
		v.Highest = "none"
	}
	for _, c := range s.GetBySeverity() {
		v.BySeverity = append(v.BySeverity, nameRow{severityName(c.GetSeverity()), fmt.Sprint(c.GetCount())})
	}
	return v
}

// reasonText says why a side is greyed, in the words of the API's documentation.
func reasonText(r adjoinv1.GreyedReason) string {
	switch r {
	case adjoinv1.GreyedReason_GREYED_REASON_NOT_ONBOARDED:
		return "the endpoint side has a record of the device but it is not onboarded"
	case adjoinv1.GreyedReason_GREYED_REASON_NEVER_SEEN:
		return "this side has never seen the entity"
	case adjoinv1.GreyedReason_GREYED_REASON_CLOUD_ONLY:
		return "the identity is cloud-only and takes no part in the on-premises join"
	case adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF:
		return "one of the two integration toggles is off"
	}
	return "unknown (" + r.String() + ")"
}

func displayName(e *adjoinv1.Entity) string {
	switch {
	case e.GetKind() == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER && e.GetDnsHostName() != "":
		return e.GetDnsHostName()
	case e.GetNetbiosDomain() != "" && e.GetSamAccountName() != "":
		return e.GetNetbiosDomain() + `\` + e.GetSamAccountName()
	case e.GetUpn() != "":
		return e.GetUpn()
	}
	return e.GetKey()
}

func kindName(k adjoinv1.EntityKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "ENTITY_KIND_"))
}

func sideName(s adjoinv1.Side) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SIDE_"))
}

func severityName(s adjoinv1.Severity) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SEVERITY_"))
}

func statusName(s adjoinv1.AlertStatus) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "ALERT_STATUS_")), "_", " ")
}

// statusView is the status page.
type statusView struct {
	IntegrationEnabled bool
	NATSConnected      bool
	Sides              []sideStatus
	Directory          *adjoinv1.DirectoryStatus
	AlertsWaiting      uint64
	Lag                string
	Services           []*adjoinv1.ServiceHeartbeat
}

// sideStatus is one side's toggle and data.
type sideStatus struct {
	Name, ID  string
	Enabled   bool
	LastData  string
	Events    uint64
	Alerts    uint64
	LastError string
	// ChangedBy and ChangedAt say who last set the toggle and when; "unknown" when not
	// recorded.
	ChangedBy, ChangedAt string
}

func newStatusView(st *adjoinv1.GetIntegrationStatusResponse) statusView {
	side := func(s *adjoinv1.SideStatus, name string) sideStatus {
		v := sideStatus{Name: name, ID: strings.ToLower(name), Enabled: s.GetEnabled(), LastData: when(s.GetLastDataReceived()),
			Events: s.GetEvents(), Alerts: s.GetAlerts(), LastError: s.GetLastError(), ChangedBy: "unknown", ChangedAt: "unknown"}
		if s.GetChangedBy() != "" {
			v.ChangedBy, v.ChangedAt = s.GetChangedBy(), when(s.GetChangedAt())
		}
		return v
	}
	return statusView{IntegrationEnabled: st.GetIntegrationEnabled(), NATSConnected: st.GetNatsConnected(),
		Sides:     []sideStatus{side(st.GetIdentity(), "Identity"), side(st.GetEndpoint(), "Endpoint")},
		Directory: st.GetDirectory(), AlertsWaiting: st.GetAlertsWaiting(),
		Lag: (time.Duration(st.GetLagSeconds() * float64(time.Second))).Round(time.Millisecond).String(), Services: st.GetServices()}
}
