package intake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/productalert"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
)

// nxlogLine is a minimal NXLog Security event with its host, time and extra fields chosen.
func nxlogLine(t *testing.T, host, eventTime string, extra map[string]string) string {
	t.Helper()
	m := map[string]any{"EventID": 4624, "Channel": "Security", "Hostname": host, "EventTime": eventTime, "TargetUserName": "pgustavo"}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every line that breaks a limit is refused with its reason and an error naming what and how
// much, copied to DEADLETTER under that reason, and the good lines around it are stored.
func TestHandlerRefusesOversizedFieldsAndFutureTimes(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	const host, old = "MORDORDC.theshire.local", "2020-08-05 02:10:02"
	manyFields := map[string]string{}
	for i := range MaxFields + 1 {
		manyFields[fmt.Sprintf("F%d", i)] = "x"
	}
	soon := time.Now().UTC().Add(time.Hour).Format("2006-01-02 15:04:05")
	later := time.Now().UTC().Add(72 * time.Hour).Format("2006-01-02 15:04:05")
	tests := []struct {
		name       string
		line       string
		wantReason string   // "" = accepted
		wantInErr  []string // parts of the error
	}{
		{name: "good old event", line: nxlogLine(t, host, old, nil)},
		{name: "5,000-byte host", line: nxlogLine(t, strings.Repeat("h", 5000), old, nil),
			wantReason: ReasonFieldTooLong, wantInErr: []string{"host", "5000 bytes", "limit of 255"}},
		{name: "host at the limit", line: nxlogLine(t, strings.Repeat("h", MaxHostBytes), old, map[string]string{"Seq": "1"})},
		{name: "account over the limit", line: nxlogLine(t, host, old, map[string]string{"SubjectUserName": strings.Repeat("u", 257)}),
			wantReason: ReasonFieldTooLong, wantInErr: []string{"SubjectUserName", "257 bytes", "limit of 256"}},
		{name: "domain over the limit", line: nxlogLine(t, host, old, map[string]string{"TargetDomainName": strings.Repeat("d", 256)}),
			wantReason: ReasonFieldTooLong, wantInErr: []string{"TargetDomainName", "limit of 255"}},
		{name: "longest Windows command line", line: nxlogLine(t, host, old, map[string]string{"CommandLine": strings.Repeat("c", 32767)})},
		{name: "field value over 32 KiB", line: nxlogLine(t, host, old, map[string]string{"CommandLine": strings.Repeat("c", 32<<10+1)}),
			wantReason: ReasonFieldTooLong, wantInErr: []string{"CommandLine", "32769 bytes", "limit of 32768"}},
		{name: "field name over the limit", line: nxlogLine(t, host, old, map[string]string{strings.Repeat("n", 300): "x"}),
			wantReason: ReasonFieldTooLong, wantInErr: []string{"field name of 300 bytes"}},
		{name: "too many fields", line: nxlogLine(t, host, old, manyFields),
			wantReason: ReasonTooManyFields, wantInErr: []string{"limit of 512"}},
		{name: "9999-12-31", line: nxlogLine(t, host, "9999-12-31 23:59:59", nil),
			wantReason: ReasonTimeInFuture, wantInErr: []string{"9999-12-31T23:59:59Z", "24h0m0s", "max-clock-skew"}},
		{name: "three days ahead", line: nxlogLine(t, host, later, nil), wantReason: ReasonTimeInFuture},
		{name: "an hour ahead (clock skew)", line: nxlogLine(t, host, soon, nil)},
		{name: "good event after the refusals", line: nxlogLine(t, host, "2020-08-05 02:10:03", nil)},
	}
	lines := make([]string, len(tests))
	for i, tt := range tests {
		lines[i] = tt.line
	}
	status, resp := post(t, h, strings.Join(lines, "\n")+"\n", postOpts{})
	if status != http.StatusOK {
		t.Fatalf("post = %d %+v, want 200", status, resp.Error)
	}
	var wantRejected, wantDead []string
	accepted := 0
	for i, tt := range tests {
		if tt.wantReason == "" {
			accepted++
			continue
		}
		wantRejected = append(wantRejected, fmt.Sprintf("%d:%s", i+1, tt.wantReason))
		wantDead = append(wantDead, "deadletter.dcingest."+tt.wantReason)
	}
	if got := rejectedLines(resp.Rejected); !slices.Equal(got, wantRejected) {
		t.Fatalf("rejected = %q, want %q", got, wantRejected)
	}
	if resp.Accepted != accepted {
		t.Errorf("accepted %d, want %d", resp.Accepted, accepted)
	}
	for _, r := range resp.Rejected {
		tt := tests[r.Line-1]
		for _, part := range tt.wantInErr {
			if !strings.Contains(r.Error, part) {
				t.Errorf("%s: error %q does not say %q", tt.name, r.Error, part)
			}
		}
	}
	if n := len(storedMsgs(t, srv.JS, natsx.StreamDCEvents)); n != accepted {
		t.Errorf("DC_EVENTS holds %d events, want %d", n, accepted)
	}
	var gotDead []string
	for _, m := range storedMsgs(t, srv.JS, natsx.StreamDeadLetter) {
		gotDead = append(gotDead, m.Subject)
	}
	if !slices.Equal(gotDead, wantDead) {
		t.Errorf("DEADLETTER subjects %q, want %q", gotDead, wantDead)
	}
}

// --max-clock-skew is honoured: with one hour allowed, an event two hours ahead is refused
// and one dated now is taken.
func TestHandlerMaxClockSkew(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	h := newHandler(t, srv)
	h.MaxClockSkew = time.Hour
	now := time.Now().UTC()
	body := nxlogLine(t, "MORDORDC", now.Add(2*time.Hour+15*time.Hour).Format("2006-01-02 15:04:05"), nil) + "\n" +
		nxlogLine(t, "MORDORDC", now.Add(-15*time.Hour).Format("2006-01-02 15:04:05"), nil) + "\n"
	status, resp := post(t, h, body, postOpts{})
	if got := rejectedLines(resp.Rejected); status != http.StatusOK || resp.Accepted != 1 || !slices.Equal(got, []string{"1:" + ReasonTimeInFuture}) {
		t.Fatalf("post = %d, accepted %d, rejected %q; want 200, 1 accepted, line 1 %s", status, resp.Accepted, got, ReasonTimeInFuture)
	}
	if !strings.Contains(resp.Rejected[0].Error, "1h0m0s") {
		t.Errorf("error %q does not name the allowed skew", resp.Rejected[0].Error)
	}
}

// A product alert dated 9999-12-31 or naming a 5,000-byte host is refused with its reason
// (422 when nothing else is taken) and the body is dead-lettered under that reason; a good
// alert right after is accepted.
func TestProductAlertsLimits(t *testing.T) {
	t.Parallel()
	s := natstest.Start(t)
	mde := func(id, host, updated string) string {
		return fmt.Sprintf(`{"id": %q, "severity": "High", "status": "New", "title": "Suspicious access to LSASS service",
  "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625", "computerDnsName": %q, "alertCreationTime": "2020-10-18T23:50:06Z",
  "lastUpdateTime": %q, "relatedUser": {"userName": "pgustavo", "domainName": "THESHIRE"}}`, id, host, updated)
	}
	p := &ProductAlerts{JS: s.JS, Service: "endpointingest", Side: adjoinv1.Side_SIDE_ENDPOINT, Log: zaptest.NewLogger(t),
		Convert: productalert.FromMDEAlert, MaxClockSkew: DefaultMaxClockSkew}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantReason string
		wantIn     string
	}{
		{name: "far future", body: mde("da1", "WORKSTATION6.theshire.local", "9999-12-31T23:59:59Z"),
			wantStatus: http.StatusUnprocessableEntity, wantReason: ReasonTimeInFuture, wantIn: "9999-12-31T23:59:59Z"},
		{name: "5,000-byte host", body: mde("da2", strings.Repeat("h", 5000), "2020-10-18T23:51:00Z"),
			wantStatus: http.StatusUnprocessableEntity, wantReason: ReasonFieldTooLong, wantIn: "netbios_name: 5000 bytes"},
		{name: "good alert after", body: mde("da3", "WORKSTATION6.theshire.local", "2020-10-18T23:51:00Z"), wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/product-alerts/mde", strings.NewReader(`{"value": [`+tt.body+`]}`)))
		var resp ProductAlertsResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s: answer %q: %v", tt.name, rec.Body.String(), err)
		}
		if rec.Code != tt.wantStatus {
			t.Fatalf("%s: %d %+v, want %d", tt.name, rec.Code, resp, tt.wantStatus)
		}
		if tt.wantReason == "" {
			if resp.Accepted != 1 {
				t.Errorf("%s: accepted %d, want 1", tt.name, resp.Accepted)
			}
			continue
		}
		if len(resp.Refused) != 1 || !strings.Contains(resp.Refused[0], tt.wantReason) || !strings.Contains(resp.Refused[0], tt.wantIn) {
			t.Errorf("%s: refused %q, want one naming %s and %q", tt.name, resp.Refused, tt.wantReason, tt.wantIn)
		}
	}
	var dead []string
	for _, m := range storedMsgs(t, s.JS, natsx.StreamDeadLetter) {
		dead = append(dead, m.Subject)
	}
	if want := []string{"deadletter.endpointingest." + ReasonTimeInFuture, "deadletter.endpointingest." + ReasonFieldTooLong}; !slices.Equal(dead, want) {
		t.Errorf("DEADLETTER subjects %q, want %q", dead, want)
	}
	if n := len(storedMsgs(t, s.JS, natsx.StreamAlerts)); n != 1 {
		t.Errorf("ALERTS holds %d alerts, want the good one", n)
	}
}

// BenchmarkCheckEvent measures the limits on a typical Security logon event: they run on
// every event of every door.
func BenchmarkCheckEvent(b *testing.B) {
	ev := &adjoinv1.Event{Host: "MORDORDC.theshire.local", Channel: "Security", EventId: 4624, Fields: map[string]string{}}
	for _, k := range []string{"SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "TargetUserSid",
		"TargetUserName", "TargetDomainName", "TargetLogonId", "LogonType", "LogonProcessName", "AuthenticationPackageName",
		"WorkstationName", "LogonGuid", "TransmittedServices", "LmPackageName", "KeyLength", "ProcessId", "ProcessName",
		"IpAddress", "IpPort", "ImpersonationLevel", "RestrictedAdminMode", "TargetOutboundUserName", "ElevatedToken"} {
		ev.Fields[k] = "value-of-" + k
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := checkEvent(ev, now, DefaultMaxClockSkew); err != nil {
			b.Fatal(err)
		}
	}
}

// Each kind of field is taken at its limit and refused one byte past it, the smallest limit
// included (checkEvent skips naming the limit of values within the smallest one).
func TestCheckEventFieldLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string
		limit int
	}{
		{"WorkstationName", MaxHostBytes},
		{"TargetDomainName", MaxDomainBytes},
		{"TargetUserName", MaxAccountBytes},
		{"User", MaxQualifiedAccountBytes},
		{"CommandLine", MaxFieldValueBytes},
	}
	for _, tt := range tests {
		for _, n := range []int{tt.limit, tt.limit + 1} {
			ev := &adjoinv1.Event{Host: "h", Channel: "Security", Fields: map[string]string{tt.field: strings.Repeat("x", n)}}
			err := checkEvent(ev, time.Now(), DefaultMaxClockSkew)
			if want := n > tt.limit; (err != nil) != want {
				t.Errorf("%s of %d bytes (limit %d): %v, want refused %v", tt.field, n, tt.limit, err, want)
			}
		}
	}
}
