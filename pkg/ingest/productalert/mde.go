package productalert

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// FromMDEAlert converts alerts of the Microsoft Defender for Endpoint alerts API (GET
// /api/alerts): one alert object, a page {"value": [...]}, or a JSON array of alerts. Like
// FromGraphAlert it returns the alerts it could convert, in input order, and an Errors listing
// the others. The id is entity.HashID("mde", id), the same as the alert gets when it arrives
// through Graph (whose providerAlertId is the Defender for Endpoint id), so both doors feed
// one alert. A severity or status outside the documented values is refused with ErrInvalid
// rather than guessed: it would be counted under the wrong severity for good.
func FromMDEAlert(b []byte) ([]*adjoinv1.Alert, error) { return convertPage[mdeAlert](b) }

func (m *mdeAlert) itemID() string { return string(m.ID) }

// mdeAlert is the part of the Defender for Endpoint alert resource that adjoin uses.
type mdeAlert struct {
	ID                flexString `json:"id"`
	IncidentID        flexString `json:"incidentId"`
	Severity          string     `json:"severity"`
	Status            string     `json:"status"`
	Classification    string     `json:"classification"`
	Determination     string     `json:"determination"`
	DetectionSource   string     `json:"detectionSource"`
	Category          string     `json:"category"`
	Title             string     `json:"title"`
	Description       string     `json:"description"`
	MachineID         flexString `json:"machineId"`
	ComputerDNSName   string     `json:"computerDnsName"`
	AlertCreationTime string     `json:"alertCreationTime"`
	FirstEventTime    string     `json:"firstEventTime"`
	LastEventTime     string     `json:"lastEventTime"`
	LastUpdateTime    string     `json:"lastUpdateTime"`
	RelatedUser       *struct {
		UserName   string `json:"userName"`
		DomainName string `json:"domainName"`
	} `json:"relatedUser"`
	LoggedOnUsers []struct {
		AccountName string `json:"accountName"`
		DomainName  string `json:"domainName"`
	} `json:"loggedOnUsers"`
	Evidence        []mdeProof `json:"evidence"`
	MitreTechniques []string   `json:"mitreTechniques"`
}

// mdeProof is one evidence item. User evidence names the user; Process and File evidence name
// the account the process ran as, read the same way; Ip evidence names an address.
type mdeProof struct {
	EntityType        string `json:"entityType"`
	AccountName       string `json:"accountName"`
	DomainName        string `json:"domainName"`
	UserSid           string `json:"userSid"`
	AadUserID         string `json:"aadUserId"`
	UserPrincipalName string `json:"userPrincipalName"`
	IPAddress         string `json:"ipAddress"`
}

func (m *mdeAlert) alert() (*adjoinv1.Alert, error) {
	productID := strings.TrimSpace(string(m.ID))
	if productID == "" {
		return nil, fmt.Errorf("%w: no id", ErrInvalid)
	}
	sev, err := mdeSeverity(m.Severity)
	if err != nil {
		return nil, err
	}
	st, err := mdeStatus(m.Status)
	if err != nil {
		return nil, err
	}
	times, updated, err := alertTimes(map[string]string{
		"alertCreationTime": m.AlertCreationTime, "lastUpdateTime": m.LastUpdateTime,
		"firstEventTime": m.FirstEventTime, "lastEventTime": m.LastEventTime,
	}, "lastUpdateTime", "alertCreationTime")
	if err != nil {
		return nil, err
	}
	side := adjoinv1.Side_SIDE_ENDPOINT
	a := &adjoinv1.Alert{
		Id:              entity.HashID(SourceMDE, productID),
		Side:            side,
		Source:          SourceMDE,
		ProductAlertId:  productID,
		Title:           m.Title,
		Description:     m.Description,
		Detector:        SourceMDE,
		KillChainPhase:  killChainPhase(m.Category),
		MitreTechniques: techniques(m.MitreTechniques),
		Severity:        sev,
		Status:          st,
		FirstActivity:   stamp(times["firstEventTime"]),
		LastActivity:    stamp(times["lastEventTime"]),
		UpdatedTime:     timestamppb.New(*updated),
		Version:         updated.UnixMilli(),
	}
	// The machine the alert was raised on.
	host := &adjoinv1.EntityRef{
		Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST,
		EdrDeviceId: strings.TrimSpace(string(m.MachineID)),
	}
	setHostName(host, m.ComputerDNSName)
	if !isEmptyRef(host) {
		a.Entities = addRefs(a.Entities, host)
	}
	for _, p := range m.Evidence {
		a.Entities = addRefs(a.Entities, p.refs(side)...)
	}
	// relatedUser names only account and domain; user evidence usually names the same user
	// with its SID, and then relatedUser adds nothing.
	if u := m.RelatedUser; u != nil {
		ref := graphUserRef(&graphAccount{AccountName: u.UserName, DomainName: u.DomainName}, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR)
		if ref != nil && !slices.ContainsFunc(a.Entities, func(o *adjoinv1.EntityRef) bool {
			return o.GetKind() == ref.GetKind() && o.GetSamAccountName() == ref.GetSamAccountName() && o.GetDomain() == ref.GetDomain()
		}) {
			a.Entities = addRefs(a.Entities, ref)
		}
	}
	// Logged-on users are context, not parties to the alert: counting the alert on every
	// admin who happened to be logged on would badge the wrong people. They stay in evidence.
	var loggedOn []string
	for _, u := range m.LoggedOnUsers {
		if name := strings.TrimSpace(u.AccountName); name != "" {
			if d := strings.TrimSpace(u.DomainName); d != "" {
				name = d + `\` + name
			}
			loggedOn = append(loggedOn, name)
		}
	}
	a.Evidence = []*adjoinv1.Evidence{{
		Kind:    EvidenceKind,
		Summary: m.Title,
		Time:    stamp(times["alertCreationTime"]),
		EventId: productID,
		Fields: nonEmpty(map[string]string{
			"id": productID, "incidentId": string(m.IncidentID), "detectionSource": m.DetectionSource,
			"category": m.Category, "classification": m.Classification, "determination": m.Determination,
			"status": m.Status, "machineId": string(m.MachineID), "computerDnsName": m.ComputerDNSName,
			"loggedOnUsers": strings.Join(loggedOn, ", "),
		}),
	}}
	return a, nil
}

// refs turns one evidence item into entity references. Defender for Endpoint gives evidence
// no roles: users are taken as actors, addresses as Graph takes a role-less endpoint address.
func (p *mdeProof) refs(side adjoinv1.Side) []*adjoinv1.EntityRef {
	var out []*adjoinv1.EntityRef
	if p.AccountName != "" || p.UserSid != "" || p.AadUserID != "" || p.UserPrincipalName != "" {
		acct := &graphAccount{
			AccountName: p.AccountName, DomainName: p.DomainName, UserSid: p.UserSid,
			AzureADUserID: p.AadUserID, UserPrincipalName: p.UserPrincipalName,
		}
		if ref := graphUserRef(acct, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR); ref != nil {
			out = append(out, ref)
		}
	}
	if strings.EqualFold(p.EntityType, "Ip") {
		if ip := pickIP([]string{p.IPAddress}); ip != "" {
			out = append(out, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: deviceRole(nil, side), Ip: ip})
		}
	}
	return out
}

// mdeSeverity reads the documented severities (UnSpecified, Informational, Low, Medium, High).
func mdeSeverity(s string) (adjoinv1.Severity, error) {
	if v := severity(s); v != adjoinv1.Severity_SEVERITY_UNSPECIFIED {
		return v, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "unspecified":
		return adjoinv1.Severity_SEVERITY_UNSPECIFIED, nil
	}
	return 0, fmt.Errorf("%w: severity %q is not one of Informational, Low, Medium, High", ErrInvalid, clip(s))
}

// mdeStatus reads the documented statuses (Unknown, New, InProgress, Resolved).
func mdeStatus(s string) (adjoinv1.AlertStatus, error) {
	if v := status(s); v != adjoinv1.AlertStatus_ALERT_STATUS_UNSPECIFIED {
		return v, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "unknown":
		return adjoinv1.AlertStatus_ALERT_STATUS_UNSPECIFIED, nil
	}
	return 0, fmt.Errorf("%w: status %q is not one of New, InProgress, Resolved", ErrInvalid, clip(s))
}
