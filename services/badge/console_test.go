package badge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/adjoin/adjoin/pkg/authn"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/badge"
)

// consoleHarness is the badge service with its console on a loopback side port.
type consoleHarness struct {
	*harness
	base string // http(s)://127.0.0.1:port
}

func startConsole(t *testing.T, edit func(*badge.Config), dial ...grpc.DialOption) *consoleHarness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startBadge(t, func(c *badge.Config) {
		c.Console, c.HTTPListener = true, ln
		if edit != nil {
			edit(c)
		}
	}, dial...)
	scheme := "http"
	if h.cfg.Security.TLSCert != "" {
		scheme = "https"
	}
	return &consoleHarness{harness: h, base: scheme + "://" + ln.Addr().String()}
}

// browser is an HTTP client that keeps cookies, does not follow redirects and sends token,
// if any, as a bearer token.
type browser struct {
	t      *testing.T
	client *http.Client
	base   string
	token  string
}

func (c *consoleHarness) browser(t *testing.T, token string, tc *tls.Config) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: c.base, token: token, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the status, the Location header and the body.
func (b *browser) do(method, path string, form url.Values, header ...string) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(data)
}

var csrfField = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// csrf is the CSRF token of the forms of a page.
func csrf(t *testing.T, html string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", html)
	}
	return m[1]
}

func toggleForm(token, side, enabled string) url.Values {
	return url.Values{"csrf": {token}, "side": {side}, "enabled": {enabled}}
}

// sideOnPage checks that the page shows side's badge as b gives it: live or greyed with the
// reason, and the counts.
func sideOnPage(html string, s *adjoinv1.SideBadge) error {
	id := strings.ToLower(strings.TrimPrefix(s.GetSide().String(), "SIDE_"))
	start := strings.Index(html, `id="badge-`+id+`"`)
	if start < 0 {
		return fmt.Errorf("no %s badge on the page", id)
	}
	sec := html[start:]
	sec = sec[:strings.Index(sec, "</section>")]
	want := []string{fmt.Sprintf(`data-known="%v"`, s.GetKnown()), fmt.Sprintf(`<dd class="total">%d</dd>`, s.GetTotal()),
		fmt.Sprintf(`<dd class="open">%d</dd>`, s.GetOpen())}
	if !s.GetKnown() {
		want = append(want, `<span class="tag">Greyed</span>`)
	}
	for _, w := range want {
		if !strings.Contains(sec, w) {
			return fmt.Errorf("%s badge section lacks %q (badge %v):\n%s", id, w, s, sec)
		}
	}
	return nil
}

func TestConsoleOffByDefault(t *testing.T) {
	t.Parallel()
	if badge.DefaultConfig().Console {
		t.Fatal("the console is on by default")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startBadge(t, func(c *badge.Config) { c.HTTPListener = ln })
	resp, err := http.Get("http://" + ln.Addr().String() + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /console/ with the console off: %s, want 404", resp.Status)
	}
}

func TestConsoleValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*badge.Config)
		want string // in the error, "" for none
	}{
		{"on, loopback, no auth", func(c *badge.Config) { c.HTTPAddr = "127.0.0.1:9091" }, ""},
		{"on, all addresses, no auth", func(c *badge.Config) { c.HTTPAddr = ":9091" }, "http-addr"},
		{"on, all addresses, --insecure", func(c *badge.Config) { c.HTTPAddr, c.Security.Insecure = ":9091", true }, ""},
		{"on, no http-addr", func(c *badge.Config) { c.HTTPAddr = "" }, "console: needs http-addr"},
		{"no live pages", func(c *badge.Config) { c.HTTPAddr, c.ConsoleMaxLive = "127.0.0.1:9091", 0 }, "console-max-live"},
	}
	for _, tt := range tests {
		cfg := badge.DefaultConfig()
		cfg.GRPCAddr, cfg.Console = "127.0.0.1:9090", true
		tt.edit(&cfg)
		err := cfg.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestConsoleTokens: the console admits the tokens gRPC admits, read sees, admin toggles,
// and a toggle post needs the caller's CSRF token and the console's own origin.
func TestConsoleTokens(t *testing.T) {
	t.Parallel()
	tokens := writeFile(t, t.TempDir(), "tokens", []byte("read r0-console\nadmin a0-console\n"))
	c := startConsole(t, func(cfg *badge.Config) {
		cfg.Security.TokensFile, cfg.IdentityLink = tokens, "https://itdr.example/entities/{sid}"
	})

	anon := c.browser(t, "", nil)
	if code, loc, _ := anon.do("GET", "/console/entity/"+keyPgustavo, nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/login?next=") {
		t.Errorf("anonymous GET entity: %d to %q, want 303 to the login page", code, loc)
	}
	if code, _, _ := anon.do("GET", "/console/status/events", nil, "Accept", "text/event-stream"); code != http.StatusUnauthorized {
		t.Errorf("anonymous events: %d, want 401", code)
	}
	if code, _, _ := c.browser(t, "wrong", nil).do("GET", "/console/status", nil); code != http.StatusSeeOther {
		t.Errorf("unknown token: %d, want 303 to the login page", code)
	}

	reader := c.browser(t, "r0-console", nil)
	// Every name form finds the same entity, as GetBadge's query does.
	for _, q := range []string{`THESHIRE\pgustavo`, "pgustavo@theshire.local", keyPgustavo, "pgustavo"} {
		code, loc, body := reader.do("GET", "/console/?q="+url.QueryEscape(q), nil)
		if code != http.StatusSeeOther || loc != "/console/entity/"+keyPgustavo {
			t.Errorf("search %q: %d to %q, want 303 to pgustavo's page\n%s", q, code, loc, body)
		}
	}
	for _, q := range []string{"WORKSTATION6.theshire.local", "workstation6"} {
		if code, loc, _ := reader.do("GET", "/console/?q="+url.QueryEscape(q), nil); loc != "/console/entity/"+keyWS6 {
			t.Errorf("search %q: %d to %q, want WORKSTATION6's page", q, code, loc)
		}
	}
	if code, _, body := reader.do("GET", "/console/?q=frodo", nil); code != http.StatusNotFound || !strings.Contains(body, "No entity found") {
		t.Errorf("search of an unknown name: %d, want 404 saying so", code)
	}
	if code, _, _ := reader.do("GET", "/console/?q="+strings.Repeat("a", 1025), nil); code != http.StatusBadRequest {
		t.Errorf("search of 1025 bytes: %d, want 400", code)
	}

	code, _, page := reader.do("GET", "/console/entity/"+keyPgustavo, nil)
	if code != http.StatusOK {
		t.Fatalf("entity page: %d\n%s", code, page)
	}
	asAdmin := func() *adjoinv1.Badge {
		t.Helper()
		resp, err := c.client.GetBadge(bearer("Bearer a0-console"), &adjoinv1.GetBadgeRequest{Selector: bySID(keyPgustavo)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetBadge()
	}
	b := asAdmin()
	for _, s := range []*adjoinv1.SideBadge{b.GetIdentity(), b.GetEndpoint()} {
		if err := sideOnPage(page, s); err != nil {
			t.Error(err)
		}
	}
	// The deep link as GetBadge gives it, when the side has one.
	if link := b.GetIdentity().GetLink(); link == "" || !strings.Contains(page, `href="`+link+`"`) {
		t.Errorf("identity deep link %q not on the page", link)
	}
	if strings.Contains(page, `id="toggle-identity-off"`) || !strings.Contains(page, "Only the admin role") {
		t.Error("the read role is offered a toggle button")
	}
	if code, _, _ := reader.do("POST", "/console/status/toggle", toggleForm(csrf(t, page), "identity", "off")); code != http.StatusForbidden {
		t.Errorf("read role toggling: %d, want 403", code)
	}

	// An admin signs in with the token once; the session cookie carries it afterwards.
	admin := c.browser(t, "", nil)
	if code, loc, _ := admin.do("POST", "/console/login", url.Values{"token": {"a0-console"}, "next": {"/console/status"}}); code != http.StatusSeeOther || loc != "/console/status" {
		t.Fatalf("login: %d to %q, want 303 to /console/status", code, loc)
	}
	code, _, page = admin.do("GET", "/console/status", nil)
	if code != http.StatusOK || !strings.Contains(page, `id="toggle-identity-off"`) {
		t.Fatalf("status page of the admin: %d, no toggle button\n%s", code, page)
	}
	token := csrf(t, page)
	if code, _, _ := admin.do("POST", "/console/status/toggle", toggleForm("forged", "identity", "off")); code != http.StatusForbidden {
		t.Errorf("toggle with a forged CSRF token: %d, want 403", code)
	}
	if code, _, _ := admin.do("POST", "/console/status/toggle", toggleForm(token, "identity", "off"),
		"Origin", "https://elsewhere.example", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-site toggle: %d, want 403", code)
	}
	if st, err := c.client.GetIntegrationStatus(bearer("Bearer a0-console"), &adjoinv1.GetIntegrationStatusRequest{}); err != nil || !st.GetIdentity().GetEnabled() {
		t.Fatalf("refused toggles changed the identity toggle: %v %v", st.GetIdentity(), err)
	}
	if code, loc, _ := admin.do("POST", "/console/status/toggle", toggleForm(token, "identity", "off")); code != http.StatusSeeOther || !strings.Contains(loc, "done=off") {
		t.Fatalf("admin toggle off: %d to %q", code, loc)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		b := asAdmin()
		return sideIs(b.GetEndpoint(), false, adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF, b.GetEndpoint().GetTotal())
	})
	// The status page names who turned the side off: the console and the session's token,
	// by its name and digest, never the session id or the token.
	_, _, page = reader.do("GET", "/console/status", nil)
	if want := `<td class="changed-by">console:token:admin:` + authn.Digest("a0-console") + `</td>`; !strings.Contains(page, want) ||
		strings.Contains(page, "a0-console<") {
		t.Errorf("status page after the toggle lacks %s:\n%s", want, page)
	}
	_, _, page = reader.do("GET", "/console/entity/"+keyPgustavo, nil)
	b = asAdmin()
	if err := sideOnPage(page, b.GetEndpoint()); err != nil || !strings.Contains(page, "one of the two integration toggles is off") {
		t.Errorf("entity page after the toggle: %v", err)
	}
	if code, _, _ := admin.do("POST", "/console/status/toggle", toggleForm(token, "identity", "on")); code != http.StatusSeeOther {
		t.Errorf("admin toggle on: %d", code)
	}
	// Signing out ends the session: the cookie no longer admits anyone.
	if code, _, _ := admin.do("POST", "/console/logout", url.Values{}); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := admin.do("GET", "/console/status", nil); code != http.StatusSeeOther {
		t.Errorf("status after logout: %d, want 303 to the login page", code)
	}
}

// TestConsoleMutualTLS: with mTLS the side port serves HTTPS; a client certificate is a
// caller (admin when listed), probes still answer without one, the console does not.
func TestConsoleMutualTLS(t *testing.T) {
	t.Parallel()
	root, certFile, keyFile, caFile := serverPKI(t)
	c := startConsole(t, func(cfg *badge.Config) {
		cfg.Security = badge.Security{TLSCert: certFile, TLSKey: keyFile, TLSClientCA: caFile, AdminCNs: "ops-admin"}
	}, clientTLS(t, root, root, "portal", time.Time{}))
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	withCert := func(cn string) *tls.Config {
		tc := &tls.Config{RootCAs: pool}
		if cn != "" {
			certPEM, keyPEM := root.issue(t, cn, false, time.Time{})
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		return tc
	}
	if code, _, _ := c.browser(t, "", withCert("")).do("GET", "/healthz", nil); code != http.StatusOK {
		t.Errorf("/healthz without a client certificate: %d, want 200", code)
	}
	if code, _, _ := c.browser(t, "", withCert("")).do("GET", "/console/status", nil); code != http.StatusSeeOther {
		t.Errorf("console without a client certificate: %d, want 303 to the login page", code)
	}
	code, _, page := c.browser(t, "", withCert("portal")).do("GET", "/console/status", nil)
	if code != http.StatusOK || strings.Contains(page, `id="toggle-endpoint-off"`) {
		t.Errorf("read certificate: %d, toggle offered %v", code, strings.Contains(page, `id="toggle-endpoint-off"`))
	}
	admin := c.browser(t, "", withCert("ops-admin"))
	code, _, page = admin.do("GET", "/console/status", nil)
	if code != http.StatusOK {
		t.Fatalf("admin certificate: %d", code)
	}
	if code, _, _ := admin.do("POST", "/console/status/toggle", toggleForm(csrf(t, page), "endpoint", "off")); code != http.StatusSeeOther {
		t.Errorf("admin certificate toggle: %d, want 303", code)
	}
}

// TestConsoleLive: a live page is told when its badge changes, the number of live pages is
// bounded, and a shutdown ends them with a last event instead of waiting for the browser.
func TestConsoleLive(t *testing.T) {
	t.Parallel()
	c := startConsole(t, func(cfg *badge.Config) { cfg.ConsoleMaxLive = 1 })
	next, lines := openEvents(t, c.base+"/console/entity/"+keyPgustavo+"/events")
	next(": live")
	second, err := http.Get(c.base + "/console/status/events")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second live page with console-max-live 1: %s, want 503", second.Status)
	}
	if _, err := c.client.SetIntegration(rpcCtx(t), &adjoinv1.SetIntegrationRequest{Side: adjoinv1.Side_SIDE_ENDPOINT}); err != nil {
		t.Fatal(err)
	}
	next("event: changed")
	c.stop()
	next("event: closing")
	for lines.Scan() {
	}
	if lines.Err() != nil {
		t.Errorf("stream after shutdown: %v, want a clean end", lines.Err())
	}
}

// openEvents opens a console page's server-sent event stream (30 s at most) and returns a
// function that reads it up to the line want, failing the test when the stream ends first, and
// the stream's lines.
func openEvents(t *testing.T, url string) (next func(want string), lines *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	lines = bufio.NewScanner(resp.Body)
	return func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("stream ended before %q: %v", want, lines.Err())
	}, lines
}
