package productalert

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// There is no Defender for Endpoint machines API sample in shared/data. The machines below are
// hand-written and follow the field names and values documented for the machine resource
// (learn.microsoft.com/defender-endpoint/api/machine: onboardingStatus Onboarded,
// CanBeOnboarded, Unsupported, InsufficientInfo). Hosts are the OTRF Shire lab's.
const (
	machineWS6 = `{
  "id": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
  "computerDnsName": "workstation6.theshire.local",
  "firstSeen": "2020-08-01T08:00:00.1234567Z",
  "lastSeen": "2020-10-18T23:59:00.5Z",
  "osPlatform": "Windows10",
  "version": "2004",
  "osProcessor": "x64",
  "lastIpAddress": "172.18.39.6",
  "lastExternalIpAddress": "167.220.196.71",
  "healthStatus": "Active",
  "onboardingStatus": "Onboarded",
  "rbacGroupName": "A",
  "riskScore": "Low",
  "exposureLevel": "Medium",
  "isAadJoined": false,
  "aadDeviceId": null,
  "machineTags": ["lab"]
}`
	// A device discovered on the network but not onboarded.
	machineWS7 = `{"id": "2222e6dd8c833c8a052ea231ec1b19adaf497b62", "computerDnsName": "WORKSTATION7",
  "onboardingStatus": "CanBeOnboarded", "firstSeen": "2020-09-01T00:00:00Z", "lastSeen": "2020-10-01T00:00:00Z",
  "osPlatform": "Windows10", "aadDeviceId": "d1d1d1d1-0000-4000-8000-000000000001"}`
)

func TestFromMachines(t *testing.T) {
	t.Parallel()
	got, err := FromMachines([]byte(`{"@odata.context": "https://api.securitycenter.microsoft.com/api/$metadata#Machines", "value": [` +
		machineWS6 + `,` + machineWS7 + `]}`))
	if err != nil || len(got) != 2 {
		t.Fatalf("FromMachines = %d records, %v", len(got), err)
	}
	want := []*adjoinv1.DeviceRecord{
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, DnsHostName: "workstation6.theshire.local", NetbiosName: "WORKSTATION6",
			EdrDeviceId: "111e6dd8c833c8a052ea231ec1b19adaf497b625", OnboardingStatus: "onboarded",
			FirstSeen: stamp(ptr(ts(t, "2020-08-01T08:00:00.1234567Z"))), LastSeen: stamp(ptr(ts(t, "2020-10-18T23:59:00.5Z")))},
		{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, NetbiosName: "WORKSTATION7",
			EdrDeviceId: "2222e6dd8c833c8a052ea231ec1b19adaf497b62", OnboardingStatus: "can_be_onboarded",
			FirstSeen: stamp(ptr(ts(t, "2020-09-01T00:00:00Z"))), LastSeen: stamp(ptr(ts(t, "2020-10-01T00:00:00Z")))},
	}
	for i := range want {
		sameProto(t, "record", want[i], got[i])
	}
	one, err := FromMachines([]byte(machineWS6))
	if err != nil || len(one) != 1 || !proto.Equal(one[0], got[0]) {
		t.Errorf("single machine = %d records, %v", len(one), err)
	}
	arr, err := FromMachines([]byte(`[` + machineWS7 + `]`))
	if err != nil || len(arr) != 1 || !proto.Equal(arr[0], got[1]) {
		t.Errorf("array = %d records, %v", len(arr), err)
	}
}

func TestFromMachinesStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"Onboarded", "onboarded"}, {"CanBeOnboarded", "can_be_onboarded"},
		{"Unsupported", "unsupported"}, {"InsufficientInfo", "insufficient_info"},
	}
	for _, tt := range tests {
		got, err := FromMachines([]byte(`{"id": "m", "computerDnsName": "ws6", "onboardingStatus": "` + tt.in + `"}`))
		if err != nil || len(got) != 1 || got[0].GetOnboardingStatus() != tt.want {
			t.Errorf("%s: %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestFromMachinesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantErr  error
		wantText string
	}{
		{"empty", ``, ErrNotJSON, ""},
		{"not JSON", `machines`, ErrNotJSON, ""},
		{"no name", `{"id": "m", "onboardingStatus": "Onboarded"}`, ErrInvalid, "computerDnsName"},
		{"unknown status", `{"id": "m", "computerDnsName": "ws6", "onboardingStatus": "Offboarded"}`, ErrInvalid, `"Offboarded"`},
		{"no status", `{"id": "m", "computerDnsName": "ws6"}`, ErrInvalid, "onboardingStatus"},
		{"bad time", `{"id": "m", "computerDnsName": "ws6", "onboardingStatus": "Onboarded", "lastSeen": "today"}`, ErrInvalid, "lastSeen"},
		{"name a number", `{"id": "m", "computerDnsName": 6, "onboardingStatus": "Onboarded"}`, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromMachines([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) || len(got) != 0 || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("FromMachines = %d records, %v; want %v naming %s", len(got), err, tt.wantErr, tt.wantText)
			}
		})
	}
	// One bad machine in a page: the others are converted.
	got, err := FromMachines([]byte(`[` + machineWS6 + `, {"id": "bad", "computerDnsName": "x"}, ` + machineWS7 + `]`))
	var items Errors
	if !errors.As(err, &items) || len(items) != 1 || items[0].Index != 1 || items[0].ID != "bad" || len(got) != 2 {
		t.Errorf("page with one bad machine = %d records, %v", len(got), err)
	}
}

func FuzzFromMachines(f *testing.F) {
	for _, s := range []string{machineWS6, machineWS7, `{"value": [` + machineWS6 + `, 5, null]}`, `[]`, `{"id": 1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := FromMachines(b)
		if err != nil && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is neither ErrNotJSON nor ErrInvalid", err)
		}
		for _, r := range recs {
			if r.GetNetbiosName() == "" || r.GetNetbiosName() != strings.ToUpper(r.GetNetbiosName()) {
				t.Fatalf("netbios name %q", r.GetNetbiosName())
			}
			switch r.GetOnboardingStatus() {
			case OnboardingOnboarded, OnboardingCanBeOnboarded, OnboardingUnsupported, OnboardingInsufficientInfo:
			default:
				t.Fatalf("status %q", r.GetOnboardingStatus())
			}
			if _, err := proto.Marshal(r); err != nil {
				t.Fatalf("record does not marshal: %v", err)
			}
		}
	})
}
