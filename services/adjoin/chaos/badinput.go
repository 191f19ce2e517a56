package chaos

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// BadLine is an input line the intake must refuse, with the reason it must give. Marker is in
// the line's first bytes (and so in what DEADLETTER keeps of it, even of a line too long).
type BadLine struct {
	Marker string
	Reason string
	Line   []byte
}

// MaxLine is the intake's line limit (512 KiB): a longer line is refused as too-long.
const MaxLine = 512 << 10

var markerRE = regexp.MustCompile(`bad-[0-9]{6}`)

// Marker returns the first bad-line marker in b, or "".
func Marker(b []byte) string { return string(markerRE.Find(b)) }

// BadLines returns malformed lines of every kind the Windows parser refuses (not JSON, not an
// object, a missing field, an invalid value), then oversized lines a little over MaxLine.
func BadLines(malformed, oversized int, seed uint64) []BadLine {
	rng := rand.New(rand.NewPCG(seed, 3))
	kinds := []struct {
		reason, format string
	}{
		{"not-json", `%s this is not JSON`},
		{"not-json", `{"chaos":"%s", truncated`},
		{"not-object", `["%s"]`},
		{"not-object", `"%s"`},
		{"missing-field", `{"chaos":"%s"}`},
		{"missing-field", `{"EventID":4624,"Channel":"Security","Message":"%s"}`},
		{"invalid", `{"EventID":"%s","Channel":"Security","Hostname":"dc1"}`},
		{"invalid", `{"EventID":4624,"Channel":"Security","Hostname":"dc1","TimeCreated":"%s"}`},
	}
	var out []BadLine
	for i := range malformed {
		k := kinds[rng.IntN(len(kinds))]
		m := fmt.Sprintf("bad-%06d", i)
		out = append(out, BadLine{Marker: m, Reason: k.reason, Line: fmt.Appendf(nil, k.format, m)})
	}
	for i := range oversized {
		m := fmt.Sprintf("bad-%06d", malformed+i)
		pad := strings.Repeat("x", MaxLine+1+rng.IntN(64<<10))
		out = append(out, BadLine{Marker: m, Reason: "too-long", Line: fmt.Appendf(nil, `{"chaos":"%s","pad":"%s"}`, m, pad)})
	}
	return out
}

// EntitylessAlert is a Microsoft Graph alerts_v2 alert of Defender for Identity with no
// evidence, so no entity: the DC ingestor's /v1/product-alerts passes it through to ALERTS.
func EntitylessAlert(i int) []byte {
	return fmt.Appendf(nil, `{"id":"noentity-%06d","providerAlertId":"noentity-%06d","serviceSource":"microsoftDefenderForIdentity",`+
		`"detectionSource":"microsoftDefenderForIdentity","title":"chaos alert without evidence %d","severity":"high","status":"new",`+
		`"createdDateTime":"2024-03-01T10:00:00Z","lastUpdateDateTime":"2024-03-01T10:00:00Z","evidence":[]}`, i, i, i)
}

// PoisonAlert is an alert the correlator can never handle: valid, with one user reference
// whose DOMAIN\sam (pad bytes long) the directory does not know, so that the correlated copy,
// which repeats the name in what was tried, is over the server's 1 MiB payload limit while the
// alert itself is not. Every attempt fails at the publish of correlated.unresolved, before any
// count is written.
func PoisonAlert(id string, pad int) *adjoinv1.Alert {
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return &adjoinv1.Alert{
		Id: id, Side: adjoinv1.Side_SIDE_IDENTITY, Source: "chaos", Detector: "poison", Title: "poison alert " + id,
		Severity: adjoinv1.Severity_SEVERITY_HIGH, Status: adjoinv1.AlertStatus_ALERT_STATUS_NEW, Version: 1,
		FirstActivity: timestamppb.New(at), LastActivity: timestamppb.New(at), UpdatedTime: timestamppb.New(at),
		Entities: []*adjoinv1.EntityRef{{Kind: adjoinv1.EntityKind_ENTITY_KIND_USER,
			SamAccountName: `CHAOS\` + id + strings.Repeat("p", pad)}},
	}
}
