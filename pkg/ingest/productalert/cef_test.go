package productalert

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/cef"
)

// CEF lines as Defender for Identity forwards them, from the public samples of its SIEM log
// reference (as reproduced by SIEM vendors' parser guides); only the syslog header is left out.
const (
	mdiEnumeration = `CEF:0|Microsoft|Azure ATP|2.78.0.0|AccountEnumerationSecurityAlert|Reconnaissance using account enumeration|5|start=2019-05-13T13:54:41.1234567Z app=Kerberos shost=CLIENT1 suser=LMaldonado msg=Suspicious account enumeration activity using the Kerberos protocol, originating from CLIENT1, was observed and successfully guessed Lamon Maldonado (Software Engineer). externalId=2003 cs1Label=url cs1=https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d cs2Label=trigger cs2=new`
	// The cs1 of this sample is no URL with an id in it, so the id is derived.
	mdiRemoteExec = `CEF:0|Microsoft|Azure ATP|2.194.15869.60621|RemoteExecutionSecurityAlert|Remote code execution attempt|5|start=2022-11-22T22:05:10.8398810Z app=Wmi shost=Hostname2 shostfqdn=Hostname2.example.com msg=User1 made an attempt to run commands remotely on Hostname2 from Hostname3, using 1 WMI method.  externalId=2019 cs1Label=url cs1=https:security.example.com cs2Label=trigger cs2=new cs3Label=mSecUrl cs3=https://alerts.example.com`
	// Hand-written after the ATA SIEM log reference's shape: URL ends in a 24-digit ObjectId.
	ataLine = `CEF:0|Microsoft|ATA|1.9.0.0|AbnormalSensitiveGroupMembershipChangeSuspiciousActivity|Abnormal modification of sensitive groups|5|start=2018-12-12T18:52:58.0000000Z app=GroupMembershipChangeEvent suser=THESHIRE\pgustavo suid=S-1-5-21-3669966080-2286457517-972388166-1104 dhost=MORDORDC.theshire.local dst=172.18.38.5 msg=pgustavo added users to sensitive groups. externalId=2024 cs1Label=url cs1=https://192.168.0.220/suspiciousActivity/5c113d028ca1ec1250ca0491`
	// A sensor health alert, hand-written in the same shape.
	mdiHealth = `CEF:0|Microsoft|Azure ATP|2.78.0.0|GatewayDisconnectedMonitoringAlert|Sensor stopped communicating|5|externalId=1011 cs1Label=url cs1=https://contoso-corp.atp.azure.com/monitoringAlerts cs2Label=trigger cs2=new msg=There has been no communication from MORDORDC.`
)

func parseCEF(t testing.TB, s string) cef.Event {
	t.Helper()
	e, err := cef.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestFromCEF(t *testing.T) {
	t.Parallel()
	start := time.Date(2019, 5, 13, 13, 54, 41, 123456700, time.UTC)
	e := parseCEF(t, mdiEnumeration)
	got, err := FromCEF(e)
	if err != nil {
		t.Fatal(err)
	}
	fields := e.Fields()
	fields["link"] = "https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d"
	msg := "Suspicious account enumeration activity using the Kerberos protocol, originating from CLIENT1, was observed and successfully guessed Lamon Maldonado (Software Engineer)."
	want := &adjoinv1.Alert{
		Id:             entity.HashID("mdi", "eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d"),
		Side:           adjoinv1.Side_SIDE_IDENTITY,
		Source:         "mdi",
		ProductAlertId: "eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d",
		Title:          "Reconnaissance using account enumeration",
		Description:    msg,
		Detector:       "mdi",
		Severity:       adjoinv1.Severity_SEVERITY_MEDIUM,
		Status:         adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity:  timestamppb.New(start),
		LastActivity:   timestamppb.New(start),
		UpdatedTime:    timestamppb.New(start),
		Version:        start.UnixMilli(),
		Entities: []*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR, SamAccountName: "lmaldonado"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, NetbiosName: "CLIENT1"},
		},
		Evidence: []*adjoinv1.Evidence{{Kind: "product-alert", Summary: msg, Time: timestamppb.New(start), EventId: "2003", Fields: fields}},
	}
	sameProto(t, "alert", want, got)
}

func TestFromCEFProducts(t *testing.T) {
	t.Parallel()
	t.Run("no id in the URL", func(t *testing.T) {
		t.Parallel()
		a, err := FromCEF(parseCEF(t, mdiRemoteExec))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := FromCEF(parseCEF(t, mdiRemoteExec))
		if a.GetProductAlertId()[:8] != "derived:" || a.GetId() != b.GetId() || a.GetId() != entity.HashID("mdi", a.GetProductAlertId()) {
			t.Errorf("derived id %q / %q, want a stable derived id", a.GetProductAlertId(), b.GetProductAlertId())
		}
		// Another occurrence of the same kind of alert is another alert.
		other, _ := FromCEF(parseCEF(t, mdiRemoteExec[:len(mdiRemoteExec)-len("cs3=https://alerts.example.com")]+"cs3=x shost=Hostname9"))
		if other.GetId() == a.GetId() {
			t.Error("two alerts on different hosts share an id")
		}
		sameProto(t, "entities", refs([]*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER,
			Role: adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST, NetbiosName: "Hostname2", DnsHostName: "Hostname2.example.com"}}), refs(a.GetEntities()))
	})
	t.Run("ATA", func(t *testing.T) {
		t.Parallel()
		a, err := FromCEF(parseCEF(t, ataLine))
		if err != nil {
			t.Fatal(err)
		}
		if a.GetSource() != "ata" || a.GetProductAlertId() != "5c113d028ca1ec1250ca0491" || a.GetSide() != adjoinv1.Side_SIDE_IDENTITY {
			t.Errorf("alert = %v", a)
		}
		sameProto(t, "entities", refs([]*adjoinv1.EntityRef{
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
				Sid: "S-1-5-21-3669966080-2286457517-972388166-1104", SamAccountName: "pgustavo", Domain: "theshire"},
			{Kind: adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, Role: adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST,
				DnsHostName: "MORDORDC.theshire.local", Ip: "172.18.38.5"},
		}), refs(a.GetEntities()))
	})
	for _, tt := range []struct {
		name, line string
		wantErr    error
	}{
		{"health alert", mdiHealth, ErrUnsupported},
		{"other vendor", `CEF:0|Fortinet|FortiGate|7.0|0000000013|traffic|3|src=10.0.0.1 dst=10.0.0.2`, ErrUnsupported},
		{"no URL: a derived id", `CEF:0|Microsoft|Azure ATP|2|X|Y|5|`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := FromCEF(parseCEF(t, tt.line))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FromCEF = %v, %v; want %v", a, err, tt.wantErr)
			}
		})
	}
}

func TestCEFSeverity(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]adjoinv1.Severity{
		"0": adjoinv1.Severity_SEVERITY_INFORMATIONAL, "3": adjoinv1.Severity_SEVERITY_LOW, "5": adjoinv1.Severity_SEVERITY_MEDIUM,
		"7": adjoinv1.Severity_SEVERITY_HIGH, "10": adjoinv1.Severity_SEVERITY_HIGH, "11": adjoinv1.Severity_SEVERITY_UNSPECIFIED,
		"-1": adjoinv1.Severity_SEVERITY_UNSPECIFIED, "Low": adjoinv1.Severity_SEVERITY_LOW, "Medium": adjoinv1.Severity_SEVERITY_MEDIUM,
		"High": adjoinv1.Severity_SEVERITY_HIGH, "Very-High": adjoinv1.Severity_SEVERITY_HIGH, "Unknown": adjoinv1.Severity_SEVERITY_UNSPECIFIED,
	} {
		if got := cefSeverity(in); got != want {
			t.Errorf("cefSeverity(%q) = %v, want %v", in, got, want)
		}
	}
}

// cefEvent is the event intake stores for a CEF line received by syslog at sent.
func cefEvent(t testing.TB, line string, sent time.Time) *adjoinv1.Event {
	t.Helper()
	f := parseCEF(t, line).Fields()
	if !sent.IsZero() {
		f["syslog.time"] = sent.Format(time.RFC3339Nano)
		f["syslog.host"] = "MORDORDC"
	}
	return &adjoinv1.Event{Format: "cef", Host: "MORDORDC", Fields: f}
}

// An update of an alert re-sent with the same CEF times is a newer version, thanks to the
// syslog header's time.
func TestFromEvent(t *testing.T) {
	t.Parallel()
	sent := time.Date(2019, 5, 13, 13, 55, 0, 0, time.UTC)
	a, err := FromEvent(cefEvent(t, mdiEnumeration, sent))
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := FromCEF(parseCEF(t, mdiEnumeration))
	if a.GetId() != direct.GetId() || a.GetVersion() != sent.UnixMilli() || a.GetEvidence()[0].GetHost() != "MORDORDC" {
		t.Errorf("alert id %s version %d host %q; want id %s, version %d, host MORDORDC",
			a.GetId(), a.GetVersion(), a.GetEvidence()[0].GetHost(), direct.GetId(), sent.UnixMilli())
	}
	if _, ok := a.GetEvidence()[0].GetFields()["syslog.time"]; ok {
		t.Error("syslog fields leaked into the evidence")
	}
	update := mdiEnumeration[:len(mdiEnumeration)-len("new")] + "update"
	b, err := FromEvent(cefEvent(t, update, sent.Add(time.Hour)))
	if err != nil || b.GetId() != a.GetId() || b.GetVersion() <= a.GetVersion() {
		t.Errorf("update = id %s version %d, %v; want the same id with a higher version than %d", b.GetId(), b.GetVersion(), err, a.GetVersion())
	}
	// Without a syslog time the CEF times give the version.
	c, _ := FromEvent(cefEvent(t, mdiEnumeration, time.Time{}))
	if c.GetVersion() != direct.GetVersion() {
		t.Errorf("version %d, want %d", c.GetVersion(), direct.GetVersion())
	}
	if _, err := FromEvent(&adjoinv1.Event{Format: "winevent-nxlog"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("FromEvent(windows event) = %v, want ErrUnsupported", err)
	}
	if _, err := FromEvent(&adjoinv1.Event{Format: "cef", Fields: map[string]string{"suser": "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromEvent(no header) = %v, want ErrInvalid", err)
	}
}

func TestDetector(t *testing.T) {
	t.Parallel()
	var refused []error
	d := &Detector{Side: adjoinv1.Side_SIDE_IDENTITY, OnRefused: func(_ *adjoinv1.Event, err error) { refused = append(refused, err) }}
	if d.Name() != "product-alert" {
		t.Errorf("Name = %q", d.Name())
	}
	got := d.Detect(cefEvent(t, mdiEnumeration, time.Time{}))
	want, _ := FromCEF(parseCEF(t, mdiEnumeration))
	want.Evidence[0].Host = "MORDORDC" // the event's host, the CEF naming none
	if len(got) != 1 || !proto.Equal(got[0], want) {
		t.Errorf("Detect = %v, want %v", got, want)
	}
	for _, ev := range []*adjoinv1.Event{
		{Format: "winevent-nxlog", EventId: 4662},
		cefEvent(t, mdiHealth, time.Time{}),
		cefEvent(t, `CEF:0|Fortinet|FortiGate|7.0|13|traffic|3|src=10.0.0.1`, time.Time{}),
	} {
		if got := d.Detect(ev); got != nil {
			t.Errorf("Detect(%v) = %v, want nothing", ev, got)
		}
	}
	if len(refused) != 0 {
		t.Errorf("refused %v; unsupported products are not refusals", refused)
	}
	if got := d.Detect(&adjoinv1.Event{Format: "cef", Fields: map[string]string{"suser": "x"}}); got != nil || len(refused) != 1 {
		t.Errorf("Detect(broken) = %v, refused %v; want nothing and one refusal", got, refused)
	}
	// An endpoint-side detector keeps no identity alert.
	if got := (&Detector{Side: adjoinv1.Side_SIDE_ENDPOINT}).Detect(cefEvent(t, mdiEnumeration, time.Time{})); got != nil {
		t.Errorf("endpoint detector kept %v", got)
	}
}
