package productalert

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// There is no Microsoft Defender for Endpoint alerts API sample in shared/data. The alerts
// below are hand-written and follow the field names and value sets documented for the alert
// resource of the Defender for Endpoint API (learn.microsoft.com/defender-endpoint/api/alerts:
// severity UnSpecified/Informational/Low/Medium/High, status Unknown/New/InProgress/Resolved,
// evidence entityType User/Machine/Ip/File/Process...). The entities are those of the OTRF
// "Shire" lab of shared/data: pgustavo (THESHIRE, ...-1104) on WORKSTATION6.
const (
	mdeNew = `{
  "id": "da637472900382838869_1364969609",
  "incidentId": 1126093,
  "investigationId": null,
  "assignedTo": null,
  "severity": "High",
  "status": "New",
  "classification": null,
  "determination": null,
  "investigationState": "Queued",
  "detectionSource": "WindowsDefenderAtp",
  "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
  "category": "CredentialAccess",
  "threatFamilyName": null,
  "title": "Suspicious access to LSASS service",
  "description": "A process accessed the memory of lsass.exe on WORKSTATION6.",
  "alertCreationTime": "2020-10-18T23:50:06.1234567Z",
  "firstEventTime": "2020-10-18T23:50:05.91Z",
  "lastEventTime": "2020-10-18T23:50:05.91Z",
  "lastUpdateTime": "2020-10-18T23:51:00.4Z",
  "resolvedTime": null,
  "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
  "computerDnsName": "WORKSTATION6.theshire.local",
  "rbacGroupName": "A",
  "aadTenantId": "a839b112-1253-6432-9bf6-94542403f21c",
  "threatName": null,
  "mitreTechniques": ["T1003.001", "T1003.001"],
  "relatedUser": {"userName": "pgustavo", "domainName": "THESHIRE"},
  "loggedOnUsers": [
    {"accountName": "pgustavo", "domainName": "THESHIRE"},
    {"accountName": "Administrator", "domainName": "THESHIRE"}
  ],
  "comments": [],
  "evidence": [
    {
      "entityType": "User",
      "evidenceCreationTime": "2020-10-18T23:50:06.2Z",
      "accountName": "pgustavo",
      "domainName": "THESHIRE",
      "userSid": "s-1-5-21-3669966080-2286457517-972388166-1104",
      "aadUserId": null,
      "userPrincipalName": "pgustavo@theshire.local",
      "detectionStatus": null
    },
    {
      "entityType": "Process",
      "evidenceCreationTime": "2020-10-18T23:50:06.2Z",
      "processId": 4780,
      "fileName": "mimikatz.exe",
      "filePath": "C:\\Users\\pgustavo\\Downloads",
      "accountName": "SYSTEM",
      "domainName": "NT AUTHORITY",
      "userSid": "S-1-5-18"
    },
    {"entityType": "Machine", "evidenceCreationTime": "2020-10-18T23:50:06.2Z"},
    {"entityType": "Ip", "evidenceCreationTime": "2020-10-18T23:50:06.2Z", "ipAddress": "172.18.39.6"},
    {"entityType": "Ip", "ipAddress": "127.0.0.1"}
  ]
}`
)

// mdeUpdated is mdeNew later, as the analyst resolved it.
var mdeUpdated = strings.NewReplacer(
	`"status": "New"`, `"status": "Resolved"`,
	`"lastUpdateTime": "2020-10-18T23:51:00.4Z"`, `"lastUpdateTime": "2020-10-19T08:00:00Z"`,
).Replace(mdeNew)

func TestFromMDEAlert(t *testing.T) {
	t.Parallel()
	got, err := FromMDEAlert([]byte(mdeNew))
	if err != nil || len(got) != 1 {
		t.Fatalf("FromMDEAlert = %d alerts, %v", len(got), err)
	}
	updated := ts(t, "2020-10-18T23:51:00.4Z")
	want := &adjoinv1.Alert{
		Id:              entity.HashID("mde", "da637472900382838869_1364969609"),
		Side:            adjoinv1.Side_SIDE_ENDPOINT,
		Source:          "mde",
		ProductAlertId:  "da637472900382838869_1364969609",
		Title:           "Suspicious access to LSASS service",
		Description:     "A process accessed the memory of lsass.exe on WORKSTATION6.",
		Detector:        "mde",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.001"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Status:          adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity:   stamp(ptr(ts(t, "2020-10-18T23:50:05.91Z"))),
		LastActivity:    stamp(ptr(ts(t, "2020-10-18T23:50:05.91Z"))),
		UpdatedTime:     stamp(&updated),
		Version:         updated.UnixMilli(),
		Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST,
				DnsHostName: "WORKSTATION6.theshire.local", EdrDeviceId: "111e6dd8c833c8a052ea231ec1b19adaf497b625"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
				Sid: "S-1-5-21-3669966080-2286457517-972388166-1104", SamAccountName: "pgustavo", Domain: "theshire",
				Upn: "pgustavo@theshire.local"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST,
				Ip: "172.18.39.6"},
		},
		Evidence: []*adjoinv1.Evidence{{
			Kind: EvidenceKind, Summary: "Suspicious access to LSASS service",
			Time: stamp(ptr(ts(t, "2020-10-18T23:50:06.1234567Z"))), EventId: "da637472900382838869_1364969609",
			Fields: map[string]string{
				"id": "da637472900382838869_1364969609", "incidentId": "1126093", "detectionSource": "WindowsDefenderAtp",
				"category": "CredentialAccess", "status": "New", "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
				"computerDnsName": "WORKSTATION6.theshire.local", "loggedOnUsers": `THESHIRE\pgustavo, THESHIRE\Administrator`,
			},
		}},
	}
	sameProto(t, "alert", want, got[0])

	// The same alert read through Graph (providerAlertId is the Defender for Endpoint id) is
	// the same adjoin alert.
	graph := strings.NewReplacer("da637551227677560813_-961444813", "da637472900382838869_1364969609").Replace(graphMDE)
	viaGraph, err := FromGraphAlert([]byte(graph))
	if err != nil || len(viaGraph) != 1 || viaGraph[0].GetId() != got[0].GetId() {
		t.Errorf("via Graph: %d alerts, %v; want id %s", len(viaGraph), err, got[0].GetId())
	}
}

func ptr[T any](v T) *T { return &v }

// A status update is a newer version of the same alert, never a new alert.
func TestFromMDEAlertUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		wantStatus adjoinv1.AlertStatus
		wantAt     string
	}{
		{"new", mdeNew, adjoinv1.AlertStatus_ALERT_STATUS_NEW, "2020-10-18T23:51:00.4Z"},
		{"resolved", mdeUpdated, adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED, "2020-10-19T08:00:00Z"},
		{"in progress, no lastUpdateTime", strings.NewReplacer(`"status": "New"`, `"status": "InProgress"`,
			`"lastUpdateTime": "2020-10-18T23:51:00.4Z"`, `"lastUpdateTime": null`).Replace(mdeNew),
			adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS, "2020-10-18T23:50:06.1234567Z"},
	}
	wantID := entity.HashID("mde", "da637472900382838869_1364969609")
	var last int64
	for _, tt := range tests[:2] {
		got, err := FromMDEAlert([]byte(tt.in))
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d alerts, %v", tt.name, len(got), err)
		}
		if got[0].GetVersion() <= last {
			t.Errorf("%s: version %d, not after %d", tt.name, got[0].GetVersion(), last)
		}
		last = got[0].GetVersion()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromMDEAlert([]byte(tt.in))
			if err != nil || len(got) != 1 {
				t.Fatalf("FromMDEAlert = %d alerts, %v", len(got), err)
			}
			a := got[0]
			if a.GetId() != wantID || a.GetStatus() != tt.wantStatus || a.GetVersion() != ts(t, tt.wantAt).UnixMilli() {
				t.Errorf("id %s status %v version %d, want %s %v %d", a.GetId(), a.GetStatus(), a.GetVersion(),
					wantID, tt.wantStatus, ts(t, tt.wantAt).UnixMilli())
			}
		})
	}
}

func TestFromMDEAlertErrors(t *testing.T) {
	t.Parallel()
	base := `"severity": "Low", "status": "New", "alertCreationTime": "2024-03-01T10:00:00Z"`
	tests := []struct {
		name     string
		in       string
		wantErr  error
		wantText string // the error names the value
	}{
		{"empty", ``, ErrNotJSON, ""},
		{"text", `alert!`, ErrNotJSON, ""},
		{"truncated", `{"id": "x",`, ErrNotJSON, ""},
		{"no id", `{` + base + `}`, ErrInvalid, "no id"},
		{"unknown severity", `{"id": "x", "severity": "Critical", "status": "New", "alertCreationTime": "2024-03-01T10:00:00Z"}`, ErrInvalid, `"Critical"`},
		{"unknown status", `{"id": "x", "severity": "Low", "status": "Closed", "alertCreationTime": "2024-03-01T10:00:00Z"}`, ErrInvalid, `"Closed"`},
		{"severity a number", `{"id": "x", "severity": 3, "status": "New", "alertCreationTime": "2024-03-01T10:00:00Z"}`, ErrInvalid, ""},
		{"bad time", `{"id": "x", "severity": "Low", "lastUpdateTime": "yesterday"}`, ErrInvalid, "lastUpdateTime"},
		{"no time", `{"id": "x", "severity": "Low"}`, ErrInvalid, "alertCreationTime"},
		{"evidence not a list", `{"id": "x", "evidence": {}, ` + base + `}`, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromMDEAlert([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || len(got) != 0 {
				t.Fatalf("FromMDEAlert = %d alerts, %v; want %v", len(got), err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not name %s", err, tt.wantText)
			}
		})
	}
}

// A page with one bad alert converts the others and names the bad one.
func TestFromMDEAlertPage(t *testing.T) {
	t.Parallel()
	bad := `{"id": "da000000000000000002_2", "severity": "Severe", "status": "New", "alertCreationTime": "2024-03-01T10:00:00Z"}`
	other := strings.ReplaceAll(mdeNew, "da637472900382838869_1364969609", "da637472900382838869_42")
	got, err := FromMDEAlert([]byte(`{"@odata.context": "https://api.securitycenter.microsoft.com/api/$metadata#Alerts", "value": [` +
		mdeNew + `,` + bad + `,` + other + `]}`))
	var items Errors
	if !errors.As(err, &items) || len(items) != 1 || items[0].Index != 1 || items[0].ID != "da000000000000000002_2" ||
		!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Severe") {
		t.Fatalf("error %v, want one ItemError for alert 1 naming the severity", err)
	}
	if len(got) != 2 || got[0].GetProductAlertId() != "da637472900382838869_1364969609" || got[1].GetProductAlertId() != "da637472900382838869_42" {
		t.Fatalf("got %d alerts, want the two good ones in order", len(got))
	}
	// An array reads the same as a page.
	arr, _ := FromMDEAlert([]byte(`[` + mdeNew + `,` + bad + `,` + other + `]`))
	if len(arr) != 2 || !proto.Equal(arr[0], got[0]) || !proto.Equal(arr[1], got[1]) {
		t.Errorf("array = %d alerts", len(arr))
	}
}

func FuzzFromMDEAlert(f *testing.F) {
	for _, s := range []string{mdeNew, mdeUpdated, `{"value": [` + mdeNew + `, 5, null]}`, `[]`, `{"id": 1e400}`,
		`{"id": "x", "severity": "Low", "alertCreationTime": "2024-03-01T10:00:00Z", "relatedUser": {"userName": "THESHIRE\\pgustavo"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		alerts, err := FromMDEAlert(b)
		if err != nil && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is neither ErrNotJSON nor ErrInvalid", err)
		}
		again, _ := FromMDEAlert(b)
		if len(again) != len(alerts) {
			t.Fatalf("second conversion gave %d alerts, first %d", len(again), len(alerts))
		}
		for i, a := range alerts {
			if a.GetId() != entity.HashID(SourceMDE, a.GetProductAlertId()) || a.GetProductAlertId() == "" {
				t.Fatalf("alert id %q is not HashID(mde, %q)", a.GetId(), a.GetProductAlertId())
			}
			if a.GetVersion() < 0 || a.GetUpdatedTime() == nil || a.GetUpdatedTime().AsTime().UnixMilli() != a.GetVersion() {
				t.Fatalf("version %d, updated %v", a.GetVersion(), a.GetUpdatedTime())
			}
			if a.GetSide() != adjoinv1.Side_SIDE_ENDPOINT {
				t.Fatalf("side %v", a.GetSide())
			}
			for _, ref := range a.GetEntities() {
				if isEmptyRef(ref) || strings.HasPrefix(ref.GetSid(), "s-") {
					t.Fatalf("reference %v", ref)
				}
			}
			if _, err := proto.Marshal(a); err != nil {
				t.Fatalf("alert does not marshal: %v", err)
			}
			if !proto.Equal(a, again[i]) {
				t.Fatal("the same input gave different alerts")
			}
		}
	})
}
