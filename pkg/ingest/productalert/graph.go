package productalert

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Errors to be tested with errors.Is.
var (
	// ErrNotJSON means the input is not a JSON object or array; it is jsonvalue.ErrNotJSON,
	// as for every parser of adjoin.
	ErrNotJSON = jsonvalue.ErrNotJSON
	// ErrInvalid means a product alert lacks what adjoin needs (an id, a time to version it
	// by) or has a field of the wrong shape.
	ErrInvalid = errors.New("invalid product alert")
	// ErrUnsupported means the alert is of a product (or a kind, like a sensor health alert)
	// that adjoin does not pass through. It is not a fault of the input.
	ErrUnsupported = errors.New("product alert not passed through")
)

// Sources: the short names of the products in Alert.source (and Alert.detector, which names
// the ALERTS subject: alerts.identity.mdi).
const (
	SourceMDI = "mdi" // Microsoft Defender for Identity, formerly Azure ATP
	SourceATA = "ata" // Microsoft Advanced Threat Analytics, MDI's on-prem predecessor
	SourceMDE = "mde" // Microsoft Defender for Endpoint
)

// EvidenceKind is the Evidence.kind of a passed-through product alert.
const EvidenceKind = "product-alert"

// ItemError is a refused alert of a Graph page, by its place in the page.
type ItemError struct {
	Index int    // 0-based place in the page
	ID    string // the alert's Graph id, if it had one
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("alert %d (id %q): %v", e.Index, e.ID, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// Errors lists the refused alerts of a page; errors.Is sees through it to each ItemError.
type Errors []*ItemError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the item errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// graphServices maps a Graph serviceSource (lower case) to the source and side it gives.
var graphServices = map[string]struct {
	source string
	side   adjoinv1.Side
}{
	"microsoftdefenderforidentity":  {SourceMDI, adjoinv1.Side_SIDE_IDENTITY},
	"azureadvancedthreatprotection": {SourceMDI, adjoinv1.Side_SIDE_IDENTITY},
	"microsoftdefenderforendpoint":  {SourceMDE, adjoinv1.Side_SIDE_ENDPOINT},
}

// FromGraphAlert converts Microsoft Graph security alerts (GET /security/alerts_v2): one alert
// object, a page {"value": [...]}, or a JSON array of alerts. It returns the alerts it could
// convert, in input order, and an Errors listing the others; a single alert that fails gives
// no alert and its error. Alerts of other services (Defender for Office 365, Entra ID
// Protection, ...) are refused with ErrUnsupported.
func FromGraphAlert(b []byte) ([]*adjoinv1.Alert, error) { return convertPage[graphAlert](b) }

// pageItem is one alert resource of a page, in any of the shapes this package reads.
type pageItem[T any] interface {
	*T
	alert() (*adjoinv1.Alert, error)
	itemID() string
}

// convertPage decodes every item of a page as T and converts it, collecting the failures.
func convertPage[T any, P pageItem[T]](b []byte) ([]*adjoinv1.Alert, error) {
	items, err := graphItems(b)
	if err != nil {
		return nil, err
	}
	var out []*adjoinv1.Alert
	var errs Errors
	for i, raw := range items {
		item := P(new(T))
		if err := json.Unmarshal(raw, item); err != nil {
			errs = append(errs, &ItemError{Index: i, Err: fmt.Errorf("%w: %v", ErrInvalid, err)})
			continue
		}
		a, err := item.alert()
		if err != nil {
			errs = append(errs, &ItemError{Index: i, ID: item.itemID(), Err: err})
			continue
		}
		out = append(out, a)
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

func (g *graphAlert) itemID() string { return string(g.ID) }

// graphItems splits the input into alert objects.
func graphItems(b []byte) ([]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return nil, ErrNotJSON
	}
	if b[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
		return items, nil
	}
	var page struct {
		Value *[]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		// Not a page: perhaps an alert whose shape is wrong, reported below per item.
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
	}
	if page.Value != nil {
		return *page.Value, nil
	}
	return []json.RawMessage{b}, nil
}

// graphAlert is the part of microsoft.graph.security.alert that adjoin uses.
type graphAlert struct {
	ID                    flexString   `json:"id"`
	ProviderAlertID       flexString   `json:"providerAlertId"`
	IncidentID            flexString   `json:"incidentId"`
	Status                string       `json:"status"`
	Severity              string       `json:"severity"`
	Classification        string       `json:"classification"`
	Determination         string       `json:"determination"`
	ServiceSource         string       `json:"serviceSource"`
	DetectionSource       string       `json:"detectionSource"`
	DetectorID            string       `json:"detectorId"`
	Title                 string       `json:"title"`
	Description           string       `json:"description"`
	Category              string       `json:"category"`
	AlertWebURL           string       `json:"alertWebUrl"`
	IncidentWebURL        string       `json:"incidentWebUrl"`
	MitreTechniques       []string     `json:"mitreTechniques"`
	CreatedDateTime       string       `json:"createdDateTime"`
	LastUpdateDateTime    string       `json:"lastUpdateDateTime"`
	FirstActivityDateTime string       `json:"firstActivityDateTime"`
	LastActivityDateTime  string       `json:"lastActivityDateTime"`
	Evidence              []graphProof `json:"evidence"`
}

// graphProof is one alertEvidence, of any derived type; only the fields of the types adjoin
// reads are declared (userEvidence, deviceEvidence, ipEvidence, and the userAccount of
// processEvidence).
type graphProof struct {
	Type            string        `json:"@odata.type"`
	Roles           []string      `json:"roles"`
	UserAccount     *graphAccount `json:"userAccount"`
	DeviceDNSName   string        `json:"deviceDnsName"`
	MDEDeviceID     string        `json:"mdeDeviceId"`
	AzureADDeviceID string        `json:"azureAdDeviceId"`
	IPInterfaces    []string      `json:"ipInterfaces"`
	VMMetadata      *struct {
		VMID       string `json:"vmId"`
		ResourceID string `json:"resourceId"`
	} `json:"vmMetadata"`
	IPAddress string `json:"ipAddress"`
}

type graphAccount struct {
	AccountName       string `json:"accountName"`
	DomainName        string `json:"domainName"`
	UserSid           string `json:"userSid"`
	AzureADUserID     string `json:"azureAdUserId"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// flexString reads a JSON string or number (ids are strings in the documentation, but
// exports do not always keep them so); null reads as "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", clip(string(b)))
	}
	*f = flexString(n.String())
	return nil
}

func (g *graphAlert) alert() (*adjoinv1.Alert, error) {
	svc, ok := graphServices[strings.ToLower(g.ServiceSource)]
	if !ok {
		return nil, fmt.Errorf("%w: serviceSource %q", ErrUnsupported, g.ServiceSource)
	}
	productID := strings.TrimSpace(string(g.ProviderAlertID))
	if productID == "" {
		productID = strings.TrimSpace(string(g.ID))
	}
	if productID == "" {
		return nil, fmt.Errorf("%w: neither providerAlertId nor id", ErrInvalid)
	}
	times, updated, err := alertTimes(map[string]string{
		"createdDateTime": g.CreatedDateTime, "lastUpdateDateTime": g.LastUpdateDateTime,
		"firstActivityDateTime": g.FirstActivityDateTime, "lastActivityDateTime": g.LastActivityDateTime,
	}, "lastUpdateDateTime", "createdDateTime")
	if err != nil {
		return nil, err
	}
	a := &adjoinv1.Alert{
		Id:              entity.HashID(svc.source, productID),
		Side:            svc.side,
		Source:          svc.source,
		ProductAlertId:  productID,
		Title:           g.Title,
		Description:     g.Description,
		Detector:        svc.source,
		KillChainPhase:  killChainPhase(g.Category),
		MitreTechniques: techniques(g.MitreTechniques),
		Severity:        severity(g.Severity),
		Status:          status(g.Status),
		FirstActivity:   stamp(times["firstActivityDateTime"]),
		LastActivity:    stamp(times["lastActivityDateTime"]),
		UpdatedTime:     timestamppb.New(*updated),
		Version:         updated.UnixMilli(),
	}
	for _, p := range g.Evidence {
		a.Entities = addRefs(a.Entities, p.refs(svc.side)...)
	}
	proof := &adjoinv1.Evidence{
		Kind:    EvidenceKind,
		Summary: g.Title,
		Time:    stamp(times["createdDateTime"]),
		EventId: productID,
		Fields: nonEmpty(map[string]string{
			"id": string(g.ID), "serviceSource": g.ServiceSource, "detectionSource": g.DetectionSource,
			"detectorId": g.DetectorID, "category": g.Category, "incidentId": string(g.IncidentID),
			"classification": g.Classification, "determination": g.Determination, "status": g.Status,
			"link": g.AlertWebURL, "incidentLink": g.IncidentWebURL,
		}),
	}
	a.Evidence = []*adjoinv1.Evidence{proof}
	return a, nil
}

// alertTimes parses an alert's timestamps, named as in its JSON (an empty one is nil), and
// picks the one the alert is versioned by: updatedName's, else createdName's.
func alertTimes(named map[string]string, updatedName, createdName string) (times map[string]*time.Time, updated *time.Time, err error) {
	times = make(map[string]*time.Time, len(named))
	for name, s := range named {
		if times[name], err = graphTime(name, s); err != nil {
			return nil, nil, err
		}
	}
	if updated = times[updatedName]; updated == nil {
		updated = times[createdName]
	}
	if updated == nil {
		return nil, nil, fmt.Errorf("%w: neither %s nor %s to version it by", ErrInvalid, updatedName, createdName)
	}
	return times, updated, nil
}

// graphTime parses a Graph DateTimeOffset; "" is absent, and a time before 1970 is refused
// (it cannot be a version).
func graphTime(name, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Before(time.Unix(0, 0)) || t.Year() > 9999 {
		return nil, fmt.Errorf("%w: %s %q is not an ISO 8601 time after 1970", ErrInvalid, name, clip(s))
	}
	t = t.UTC()
	return &t, nil
}

// refs turns one piece of evidence into entity references.
func (p *graphProof) refs(side adjoinv1.Side) []*adjoinv1.EntityRef {
	var out []*adjoinv1.EntityRef
	if u := p.UserAccount; u != nil {
		if ref := graphUserRef(u, userRole(p.Roles)); ref != nil {
			out = append(out, ref)
		}
	}
	switch strings.ToLower(strings.TrimPrefix(p.Type, "#")) {
	case "microsoft.graph.security.deviceevidence":
		ref := &adjoinv1.EntityRef{
			Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: deviceRole(p.Roles, side),
			EdrDeviceId: p.MDEDeviceID, AadDeviceId: p.AzureADDeviceID, Ip: pickIP(p.IPInterfaces),
		}
		setHostName(ref, p.DeviceDNSName)
		if vm := p.VMMetadata; vm != nil {
			ref.CloudVmId = cmp.Or(vm.ResourceID, vm.VMID)
		}
		if !isEmptyRef(ref) {
			out = append(out, ref)
		}
	case "microsoft.graph.security.ipevidence":
		if ip := pickIP([]string{p.IPAddress}); ip != "" {
			out = append(out, &adjoinv1.EntityRef{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: deviceRole(p.Roles, side), Ip: ip})
		}
	}
	return out
}

// killChainPhase maps a Graph category (a MITRE ATT&CK tactic, or one of Defender for
// Identity's own phases) to adjoin's phases.
func killChainPhase(category string) adjoinv1.KillChainPhase {
	switch strings.ToLower(strings.NewReplacer(" ", "", "_", "", "-", "").Replace(category)) {
	case "reconnaissance", "discovery":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_RECONNAISSANCE
	case "credentialaccess", "compromisedcredentials":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS
	case "lateralmovement":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT
	case "privilegeescalation":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PRIVILEGE_ESCALATION
	case "domaindominance":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_DOMAIN_DOMINANCE
	case "execution":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXECUTION
	case "persistence":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_PERSISTENCE
	case "exfiltration":
		return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXFILTRATION
	}
	return adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_UNSPECIFIED
}

// Graph's severity and status values, lower-cased; any other is UNSPECIFIED.
var (
	severities = map[string]adjoinv1.Severity{"informational": adjoinv1.Severity_SEVERITY_INFORMATIONAL,
		"low": adjoinv1.Severity_SEVERITY_LOW, "medium": adjoinv1.Severity_SEVERITY_MEDIUM, "high": adjoinv1.Severity_SEVERITY_HIGH}
	statuses = map[string]adjoinv1.AlertStatus{"new": adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		"inprogress": adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS, "resolved": adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED}
)

func severity(s string) adjoinv1.Severity { return severities[strings.ToLower(strings.TrimSpace(s))] }

func status(s string) adjoinv1.AlertStatus { return statuses[strings.ToLower(strings.TrimSpace(s))] }

func techniques(ts []string) []string {
	var out []string
	for _, t := range ts {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func stamp(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
