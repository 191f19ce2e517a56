package productalert

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// sameProto fails the test with both messages when they differ.
func sameProto(t *testing.T, what string, want, got proto.Message) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Errorf("%s =\n%s\nwant\n%s", what, prototext.Format(got), prototext.Format(want))
	}
}

// refs wraps references in an alert, to compare them with sameProto.
func refs(r []*adjoinv1.EntityRef) *adjoinv1.Alert { return &adjoinv1.Alert{Entities: r} }

// There is no Microsoft Graph sample in shared/data. The alerts below are hand-written, minimal,
// and follow the field names and value sets documented for microsoft.graph.security.alert
// (alerts_v2), userEvidence/userAccount, deviceEvidence, ipEvidence and processEvidence
// (learn.microsoft.com/graph/api/resources/security-alert). The entities are those of the
// OTRF "Shire" lab of shared/data (S1: pgustavo's DCSync from WORKSTATION5 against MORDORDC).
const (
	graphMDI = `{
  "@odata.type": "#microsoft.graph.security.alert",
  "id": "aa5b8ca1ec04d05e65fa1234567890ab",
  "providerAlertId": "57b8ac96-7907-4971-9b27-ec77ad8c029a",
  "incidentId": "1042",
  "status": "new",
  "severity": "high",
  "classification": null,
  "determination": null,
  "serviceSource": "microsoftDefenderForIdentity",
  "detectionSource": "microsoftDefenderForIdentity",
  "detectorId": "DirectoryServicesReplicationSecurityAlert",
  "title": "Suspected DCSync attack (replication of directory services)",
  "description": "pgustavo on WORKSTATION5 sent replication requests to MORDORDC.",
  "category": "CredentialAccess",
  "alertWebUrl": "https://security.microsoft.com/alerts/aa5b8ca1ec04d05e65fa1234567890ab",
  "mitreTechniques": ["T1003.006", "T1003.006", null],
  "createdDateTime": "2020-08-05T06:10:10.1234567Z",
  "lastUpdateDateTime": "2020-08-05T06:10:12.5Z",
  "resolvedDateTime": null,
  "firstActivityDateTime": "2020-08-05T06:09:58Z",
  "lastActivityDateTime": "2020-08-05T06:10:02Z",
  "comments": [],
  "evidence": [
    {
      "@odata.type": "#microsoft.graph.security.userEvidence",
      "createdDateTime": "2020-08-05T06:10:10.1234567Z",
      "verdict": "suspicious",
      "roles": ["compromised"],
      "tags": [],
      "userAccount": {
        "accountName": "pgustavo",
        "domainName": "THESHIRE",
        "userSid": "S-1-5-21-3669966080-2286457517-972388166-1104",
        "azureAdUserId": null,
        "userPrincipalName": "pgustavo@theshire.local",
        "displayName": "Pedro Gustavo"
      }
    },
    {
      "@odata.type": "#microsoft.graph.security.deviceEvidence",
      "roles": ["source"],
      "deviceDnsName": "WORKSTATION5.theshire.local",
      "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db",
      "azureAdDeviceId": null,
      "osBuild": 19041,
      "ipInterfaces": ["127.0.0.1", "fe80::5d2a:1d6f:2f33:c6a2", "172.18.39.5"],
      "loggedOnUsers": [{"accountName": "pgustavo", "domainName": "THESHIRE"}]
    },
    {
      "@odata.type": "#microsoft.graph.security.deviceEvidence",
      "roles": ["attacked"],
      "deviceDnsName": "MORDORDC.theshire.local",
      "ipInterfaces": ["172.18.38.5"]
    },
    {
      "@odata.type": "#microsoft.graph.security.ipEvidence",
      "roles": ["source"],
      "ipAddress": "::ffff:172.18.39.5",
      "countryLetterCode": null
    }
  ]
}`

	// The same alert later, resolved.
	graphMDIResolved = `{
  "id": "aa5b8ca1ec04d05e65fa1234567890ab",
  "providerAlertId": "57b8ac96-7907-4971-9b27-ec77ad8c029a",
  "status": "resolved",
  "severity": "high",
  "serviceSource": "microsoftDefenderForIdentity",
  "title": "Suspected DCSync attack (replication of directory services)",
  "createdDateTime": "2020-08-05T06:10:10.1234567Z",
  "lastUpdateDateTime": "2020-08-06T09:00:00Z",
  "evidence": []
}`

	// An endpoint alert: a process run by SYSTEM (a local identity, left out) on WORKSTATION5
	// by pgustavo (a hybrid user: on-prem SID and Azure AD id).
	graphMDE = `{
  "id": "da637551227677560813_-961444813",
  "providerAlertId": "da637551227677560813_-961444813",
  "incidentId": 28282,
  "status": "inProgress",
  "severity": "medium",
  "serviceSource": "microsoftDefenderForEndpoint",
  "detectionSource": "microsoftDefenderForEndpoint",
  "title": "Suspicious access to LSASS service",
  "category": "CredentialAccess",
  "mitreTechniques": ["T1003.001"],
  "createdDateTime": "2020-10-18T23:50:06Z",
  "lastUpdateDateTime": "2020-10-18T23:51:00Z",
  "firstActivityDateTime": "2020-10-18T23:50:05.91Z",
  "lastActivityDateTime": "2020-10-18T23:50:05.91Z",
  "evidence": [
    {
      "@odata.type": "#microsoft.graph.security.deviceEvidence",
      "roles": ["compromised"],
      "deviceDnsName": "workstation5",
      "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db",
      "azureAdDeviceId": "f3a0b1c2-0d1e-4f5a-9b8c-7d6e5f4a3b2c",
      "ipInterfaces": ["172.18.39.5"]
    },
    {
      "@odata.type": "#microsoft.graph.security.processEvidence",
      "processId": 4780,
      "userAccount": {"accountName": "SYSTEM", "domainName": "NT AUTHORITY", "userSid": "S-1-5-18"}
    },
    {
      "@odata.type": "#microsoft.graph.security.userEvidence",
      "roles": [],
      "userAccount": {
        "accountName": "pgustavo", "domainName": "THESHIRE",
        "userSid": "s-1-5-21-2323213074-4052461197-1785501644-1104",
        "azureAdUserId": "8f1f0b0e-3c5a-4d3e-9d9c-0a1b2c3d4e5f",
        "userPrincipalName": "pgustavo@theshire.local"
      }
    }
  ]
}`

	// A cloud-only user on a cloud VM: nothing to join on on-prem.
	graphCloudOnly = `{
  "id": "da000000000000000001_1",
  "providerAlertId": "da000000000000000001_1",
  "status": "new",
  "severity": "low",
  "serviceSource": "microsoftDefenderForEndpoint",
  "title": "Suspicious PowerShell command line",
  "createdDateTime": "2024-03-01T10:00:00Z",
  "evidence": [
    {
      "@odata.type": "#microsoft.graph.security.userEvidence",
      "userAccount": {
        "accountName": "frodo", "domainName": "theshire.onmicrosoft.com", "userSid": null,
        "azureAdUserId": "8f1f0b0e-3c5a-4d3e-9d9c-0a1b2c3d4e5f",
        "userPrincipalName": "frodo@theshire.onmicrosoft.com"
      }
    },
    {
      "@odata.type": "#microsoft.graph.security.deviceEvidence",
      "azureAdDeviceId": "d1d1d1d1-0000-4000-8000-000000000001",
      "vmMetadata": {"vmId": "ca1b0d41-5a3b-4d95-b48b-f220aed11d78", "cloudProvider": "azure",
        "resourceId": "/subscriptions/8700d3a3/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm42"}
    }
  ]
}`

	graphOffice = `{"id": "fa1", "providerAlertId": "fa1", "serviceSource": "microsoftDefenderForOffice365",
  "title": "Email messages containing malicious URL removed after delivery", "createdDateTime": "2024-03-01T10:00:00Z"}`
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFromGraphAlertMDI(t *testing.T) {
	t.Parallel()
	got, err := FromGraphAlert([]byte(graphMDI))
	if err != nil || len(got) != 1 {
		t.Fatalf("FromGraphAlert = %d alerts, %v", len(got), err)
	}
	updated := ts(t, "2020-08-05T06:10:12.5Z")
	want := &adjoinv1.Alert{
		Id:              entity.HashID("mdi", "57b8ac96-7907-4971-9b27-ec77ad8c029a"),
		Side:            adjoinv1.Side_SIDE_IDENTITY,
		Source:          "mdi",
		ProductAlertId:  "57b8ac96-7907-4971-9b27-ec77ad8c029a",
		Title:           "Suspected DCSync attack (replication of directory services)",
		Description:     "pgustavo on WORKSTATION5 sent replication requests to MORDORDC.",
		Detector:        "mdi",
		KillChainPhase:  adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.006"},
		Severity:        adjoinv1.Severity_SEVERITY_HIGH,
		Status:          adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity:   stampTime(ts(t, "2020-08-05T06:09:58Z")),
		LastActivity:    stampTime(ts(t, "2020-08-05T06:10:02Z")),
		UpdatedTime:     stampTime(updated),
		Version:         updated.UnixMilli(),
		Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
				Sid: "S-1-5-21-3669966080-2286457517-972388166-1104", SamAccountName: "pgustavo", Domain: "theshire", Upn: "pgustavo@theshire.local"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST,
				DnsHostName: "WORKSTATION5.theshire.local", Ip: "172.18.39.5", EdrDeviceId: "73e7e2de709dff64ef64b1d0c30e67fab63279db"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_TARGET,
				DnsHostName: "MORDORDC.theshire.local", Ip: "172.18.38.5"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, Ip: "172.18.39.5"},
		},
		Evidence: []*adjoinv1.Evidence{{
			Kind:    "product-alert",
			Summary: "Suspected DCSync attack (replication of directory services)",
			Time:    stampTime(ts(t, "2020-08-05T06:10:10.1234567Z")),
			EventId: "57b8ac96-7907-4971-9b27-ec77ad8c029a",
			Fields: map[string]string{
				"id": "aa5b8ca1ec04d05e65fa1234567890ab", "serviceSource": "microsoftDefenderForIdentity",
				"detectionSource": "microsoftDefenderForIdentity", "detectorId": "DirectoryServicesReplicationSecurityAlert",
				"category": "CredentialAccess", "incidentId": "1042", "status": "new",
				"link": "https://security.microsoft.com/alerts/aa5b8ca1ec04d05e65fa1234567890ab",
			},
		}},
	}
	sameProto(t, "alert", want, got[0])
}

// A status update is a newer version of the same alert, never a new one.
func TestFromGraphAlertUpdate(t *testing.T) {
	t.Parallel()
	first, err := FromGraphAlert([]byte(graphMDI))
	if err != nil {
		t.Fatal(err)
	}
	later, err := FromGraphAlert([]byte(graphMDIResolved))
	if err != nil {
		t.Fatal(err)
	}
	a, b := first[0], later[0]
	if a.GetId() != b.GetId() || a.GetProductAlertId() != b.GetProductAlertId() {
		t.Errorf("ids %s and %s differ for the same product alert", a.GetId(), b.GetId())
	}
	if b.GetVersion() <= a.GetVersion() || b.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_RESOLVED {
		t.Errorf("update = version %d status %v; want a version above %d, resolved", b.GetVersion(), b.GetStatus(), a.GetVersion())
	}
	// The same input twice gives the same alert, byte for byte.
	again, _ := FromGraphAlert([]byte(graphMDI))
	if !proto.Equal(again[0], a) {
		t.Error("converting the same alert twice gave different alerts")
	}
}

func TestFromGraphAlertPage(t *testing.T) {
	t.Parallel()
	page := `{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2",
  "value": [` + graphMDI + `,` + graphMDE + `,` + graphOffice + `,{"serviceSource": "microsoftDefenderForEndpoint"}]}`
	got, err := FromGraphAlert([]byte(page))
	if len(got) != 2 || got[0].GetSource() != "mdi" || got[1].GetSource() != "mde" {
		t.Fatalf("FromGraphAlert = %d alerts, want the mdi and mde ones", len(got))
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("error = %v, want two refused items", err)
	}
	if errs[0].Index != 2 || errs[0].ID != "fa1" || !errors.Is(errs[0], ErrUnsupported) {
		t.Errorf("first refusal = %+v, want item 2 unsupported", errs[0])
	}
	if errs[1].Index != 3 || !errors.Is(errs[1], ErrInvalid) {
		t.Errorf("second refusal = %+v, want item 3 invalid", errs[1])
	}
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrInvalid) {
		t.Error("errors.Is does not see through Errors")
	}

	mde := got[1]
	if mde.GetSide() != adjoinv1.Side_SIDE_ENDPOINT || mde.GetStatus() != adjoinv1.AlertStatus_ALERT_STATUS_IN_PROGRESS ||
		mde.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM || mde.GetEvidence()[0].GetFields()["incidentId"] != "28282" {
		t.Errorf("mde alert = %v", mde)
	}
	wantRefs := []*adjoinv1.EntityRef{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST, NetbiosName: "workstation5",
			Ip: "172.18.39.5", EdrDeviceId: "73e7e2de709dff64ef64b1d0c30e67fab63279db", AadDeviceId: "f3a0b1c2-0d1e-4f5a-9b8c-7d6e5f4a3b2c"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR, Sid: "S-1-5-21-2323213074-4052461197-1785501644-1104",
			SamAccountName: "pgustavo", Domain: "theshire", Upn: "pgustavo@theshire.local", AadObjectId: "8f1f0b0e-3c5a-4d3e-9d9c-0a1b2c3d4e5f"},
	}
	sameProto(t, "mde entities", refs(wantRefs), refs(mde.GetEntities()))

	// A JSON array of alerts reads the same.
	arr, err := FromGraphAlert([]byte(`[` + graphMDI + `,` + graphMDE + `]`))
	if err != nil || len(arr) != 2 || !proto.Equal(arr[0], got[0]) || !proto.Equal(arr[1], got[1]) {
		t.Errorf("array = %d alerts, %v", len(arr), err)
	}
}

// Cloud-only identities keep only their cloud ids (and UPN), so the correlator excludes them.
func TestFromGraphAlertCloudOnly(t *testing.T) {
	t.Parallel()
	got, err := FromGraphAlert([]byte(graphCloudOnly))
	if err != nil || len(got) != 1 {
		t.Fatalf("FromGraphAlert = %d alerts, %v", len(got), err)
	}
	want := []*adjoinv1.EntityRef{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
			Upn: "frodo@theshire.onmicrosoft.com", AadObjectId: "8f1f0b0e-3c5a-4d3e-9d9c-0a1b2c3d4e5f"},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST,
			AadDeviceId: "d1d1d1d1-0000-4000-8000-000000000001", CloudVmId: "/subscriptions/8700d3a3/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm42"},
	}
	sameProto(t, "entities", refs(want), refs(got[0].GetEntities()))
	for _, ref := range got[0].GetEntities() {
		if onPremName(ref) {
			t.Errorf("cloud-only reference %v carries an on-prem name", ref)
		}
	}
	if got[0].GetVersion() != ts(t, "2024-03-01T10:00:00Z").UnixMilli() {
		t.Errorf("version %d, want createdDateTime when lastUpdateDateTime is missing", got[0].GetVersion())
	}
}

// onPremName mirrors what the correlator joins on (DESIGN.md: on-prem AD entities only).
func onPremName(r *adjoinv1.EntityRef) bool {
	cloud := r.GetAadObjectId() != "" || r.GetAadDeviceId() != "" || r.GetCloudVmId() != ""
	return r.GetSid() != "" || r.GetObjectGuid() != "" || r.GetSamAccountName() != "" || r.GetDnsHostName() != "" ||
		r.GetNetbiosName() != "" || r.GetIp() != "" || (r.GetUpn() != "" && !cloud)
}

func TestFromGraphAlertErrors(t *testing.T) {
	t.Parallel()
	base := `"serviceSource": "microsoftDefenderForIdentity", "createdDateTime": "2024-03-01T10:00:00Z"`
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"empty", ``, ErrNotJSON},
		{"text", `alert!`, ErrNotJSON},
		{"truncated", `{"id": "x",`, ErrNotJSON},
		{"no id", `{` + base + `}`, ErrInvalid},
		{"bad time", `{"id": "x", "serviceSource": "microsoftDefenderForIdentity", "lastUpdateDateTime": "yesterday"}`, ErrInvalid},
		{"before 1970", `{"id": "x", "serviceSource": "microsoftDefenderForIdentity", "lastUpdateDateTime": "1969-12-31T00:00:00Z"}`, ErrInvalid},
		{"no time", `{"id": "x", "serviceSource": "microsoftDefenderForIdentity"}`, ErrInvalid},
		{"title not a string", `{"id": "x", "title": 5, ` + base + `}`, ErrInvalid},
		{"id an object", `{"id": {"a": 1}, ` + base + `}`, ErrInvalid},
		{"other service", graphOffice, ErrUnsupported},
		{"no service", `{"id": "x", "createdDateTime": "2024-03-01T10:00:00Z"}`, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromGraphAlert([]byte(tt.in))
			if len(got) != 0 || !errors.Is(err, tt.wantErr) {
				t.Errorf("FromGraphAlert = %d alerts, %v; want none and %v", len(got), err, tt.wantErr)
			}
		})
	}
	// An empty page is no error.
	if got, err := FromGraphAlert([]byte(`{"value": []}`)); len(got) != 0 || err != nil {
		t.Errorf("empty page = %d alerts, %v", len(got), err)
	}
	// The older service name of Defender for Identity.
	got, err := FromGraphAlert([]byte(`{"id": "x", "serviceSource": "azureAdvancedThreatProtection", "createdDateTime": "2024-03-01T10:00:00Z"}`))
	if err != nil || len(got) != 1 || got[0].GetSide() != adjoinv1.Side_SIDE_IDENTITY || got[0].GetId() != entity.HashID("mdi", "x") {
		t.Errorf("azureAdvancedThreatProtection = %v, %v", got, err)
	}
}

func TestPickIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"127.0.0.1", "fe80::1", "2001:db8::5", "10.0.0.5"}, "10.0.0.5"},
		{[]string{"::ffff:172.18.39.5"}, "172.18.39.5"},
		{[]string{"2001:db8::5", "0.0.0.0"}, "2001:db8::5"},
		{[]string{"not an ip", "169.254.1.1", ""}, ""},
	}
	for _, tt := range tests {
		if got := pickIP(tt.in); got != tt.want {
			t.Errorf("pickIP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzFromGraphAlert(f *testing.F) {
	for _, s := range []string{graphMDI, graphMDIResolved, graphMDE, graphCloudOnly, graphOffice,
		`{"value": [` + graphMDE + `, 5, null]}`, `[]`, `{"id": 1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		alerts, err := FromGraphAlert(b)
		if err != nil && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error %v is none of ErrNotJSON, ErrInvalid, ErrUnsupported", err)
		}
		again, _ := FromGraphAlert(b)
		if len(again) != len(alerts) {
			t.Fatalf("second conversion gave %d alerts, first %d", len(again), len(alerts))
		}
		for i, a := range alerts {
			if a.GetId() != entity.HashID(a.GetSource(), a.GetProductAlertId()) || a.GetProductAlertId() == "" {
				t.Fatalf("alert id %q is not HashID(%q, %q)", a.GetId(), a.GetSource(), a.GetProductAlertId())
			}
			if a.GetVersion() < 0 || a.GetUpdatedTime() == nil || a.GetUpdatedTime().AsTime().UnixMilli() != a.GetVersion() {
				t.Fatalf("version %d, updated %v", a.GetVersion(), a.GetUpdatedTime())
			}
			if s := a.GetSide(); s != adjoinv1.Side_SIDE_IDENTITY && s != adjoinv1.Side_SIDE_ENDPOINT {
				t.Fatalf("side %v", s)
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
