package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// The synthetic domain: users as an LDAP sync of a real domain stores them.
const (
	domainSID  = "S-1-5-21-1004336348-1177238915-682003330"
	netbios    = "CORP"
	dnsDomain  = "corp.example.test"
	baseDN     = "DC=corp,DC=example,DC=test"
	dcHost     = "DC1." + dnsDomain
	userSource = "ldap:ldaps://" + dcHost
)

func userSID(i int) string { return domainSID + "-" + strconv.Itoa(10_000+i) }
func userSam(i int) string { return fmt.Sprintf("user%07d", i) }

// userGUID is a deterministic objectGUID in canonical form, the entity key.
func userGUID(i int) string {
	h := entity.HashID("bench-user", strconv.Itoa(i))
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// user is directory user i, with what the LDAP sync stores for an ordinary account.
func user(i int) *adjoinv1.Entity {
	sam := userSam(i)
	display := fmt.Sprintf("User %07d", i)
	return &adjoinv1.Entity{
		Key: userGUID(i), Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Sid: userSID(i), ObjectGuid: userGUID(i),
		SamAccountName: sam, NetbiosDomain: netbios, DnsDomain: dnsDomain, Upn: sam + "@" + dnsDomain,
		DisplayName: display, DistinguishedName: "CN=" + display + ",OU=Staff," + baseDN,
		MemberOf:           []string{"CN=Staff,OU=Groups," + baseDN},
		UserAccountControl: 512, WhenChanged: timestamppb.New(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)),
		Source: userSource,
	}
}

// loadUsers writes users from..to-1 into adjoin_directory through the bucket's subjects,
// asynchronously (a Put per entity would wait for a round trip each).
func loadUsers(ctx context.Context, js jetstream.JetStream, from, to int, progress io.Writer) error {
	p := &publisher{js: js}
	opts := proto.MarshalOptions{Deterministic: true}
	step := max(100_000, (to-from)/10)
	for i := from; i < to; i++ {
		if i > from && (i-from)%step == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			fmt.Fprintf(progress, "bench:   %d of %d users written\n", i-from, to-from)
		}
		data, err := opts.Marshal(user(i))
		if err != nil {
			return err
		}
		if err := p.publish(&nats.Msg{Subject: "$KV." + natsx.BucketDirectory + "." + userGUID(i), Data: data}); err != nil {
			return err
		}
	}
	return p.flush()
}

// alertAt is the time base of the synthetic alerts: they fall in the 30 days before it.
var alertAt = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// alert is alert n of a phase on user u, shaped after what the detectors raise on the
// recordings of shared/data (the DCSync of scenario S1 and the Grunt implant on WORKSTATION5):
// even n an identity DCSync alert naming the user by SID and DOMAIN\sam with three 4662
// events, odd n an endpoint alert naming the user by DOMAIN\sam with its Sysmon 3 event. They
// reference users only, so none waits in adjoin_pending for a computer the directory lacks.
func alert(phase string, n, u int) *adjoinv1.Alert {
	sam := userSam(u)
	at := alertAt.Add(-time.Duration((n*7919)%(30*24*3600)) * time.Second)
	id := entity.HashID("adjoin-bench", phase, strconv.Itoa(n))
	if n%2 == 1 {
		host := fmt.Sprintf("WS%06d.%s", u, dnsDomain)
		image := `C:\Users\` + sam + `\Desktop\GruntHTTP.exe`
		return &adjoinv1.Alert{
			Id: id, Side: adjoinv1.Side_SIDE_ENDPOINT, Source: "adjoin-endpointingest",
			Title:       "Program in a user folder contacted a domain service",
			Description: image + " on " + host + `, run by ` + netbios + `\` + sam + ", connected to RPC endpoint mapper 10.0.0.5:135.",
			Detector:    "user-binary-to-domain-service", KillChainPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT,
			MitreTechniques: []string{"T1021"}, Severity: adjoinv1.Severity_SEVERITY_MEDIUM, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW,
			FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at), UpdatedTime: timestamppb.New(at), Version: 1,
			Entities: []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
				SamAccountName: sam, Domain: netbios}},
			Evidence: []*adjoinv1.Evidence{{Kind: "sysmon", Summary: "3 grunthttp.exe -> 10.0.0.5:135 (RPC endpoint mapper)",
				Host: host, Time: timestamppb.New(at), EventId: "3", RecordId: int64(479979 + n),
				Fields: map[string]string{"DestinationHostname": "-", "DestinationIp": "10.0.0.5", "DestinationPort": "135",
					"Image": image, "ProcessGuid": "{8715b604-458d-5f2a-3905-000000000400}", "ProcessId": "2064",
					"SourceIp": "10.0.39.5", "SourcePort": "59695", "User": netbios + `\` + sam}}},
		}
	}
	var evidence []*adjoinv1.Evidence
	for k, right := range []string{"DS-Replication-Get-Changes", "DS-Replication-Get-Changes", "DS-Replication-Get-Changes-All"} {
		evidence = append(evidence, &adjoinv1.Evidence{Kind: "windows-event", Summary: "4662 " + sam + " used " + right,
			Host: dcHost, Time: timestamppb.New(at), EventId: "4662", RecordId: int64(215522 + 3*n + k),
			Fields: map[string]string{"AccessMask": "0x100", "ObjectName": "%{3933c65d-ac7f-4c79-b5b7-ad0fb941333c}",
				"Properties":        "%%7688\r\n\t\t{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}\r\n\t{19195a5b-6da0-11d0-afd3-00c04fd930c9}\r\n",
				"SubjectDomainName": netbios, "SubjectLogonId": "0x824909", "SubjectUserName": sam, "SubjectUserSid": userSID(u)}})
	}
	return &adjoinv1.Alert{
		Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Source: "adjoin-dcingest",
		Title:       "Suspected DCSync attack (replication of directory services)",
		Description: sam + " requested directory replication (DS-Replication-Get-Changes) from " + dcHost + " without being a domain controller.",
		Detector:    "dcsync", KillChainPhase: adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		MitreTechniques: []string{"T1003.006"}, Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at.Add(time.Millisecond)), UpdatedTime: timestamppb.New(at), Version: 1,
		Entities: []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, Role: adjoinv1.EntityRole_ENTITY_ROLE_ACTOR,
			Sid: userSID(u), SamAccountName: sam, Domain: netbios}},
		Evidence: evidence,
	}
}

// alertMsg is an alert as the ingestors publish it: its ALERTS subject, the contract's
// headers and the deduplication id of its version.
func alertMsg(a *adjoinv1.Alert) (*nats.Msg, error) {
	return natsx.NewMsg(detection.Subject(a), detection.MsgID(a), a)
}

// msgSize is the bytes a message takes on the wire: subject, headers and payload.
func msgSize(m *nats.Msg) int {
	n := len(m.Subject) + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
