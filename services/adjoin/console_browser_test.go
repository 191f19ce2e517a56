package adjoin

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// chromium finds the browser of the console test: the Debian package's binary, or another
// Chromium or Chrome on PATH. Without one the test skips, unless ADJOIN_REQUIRE_CHROMIUM is
// set (as .ci/run does), which makes a missing browser a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("ADJOIN_REQUIRE_CHROMIUM") != "" {
		t.Fatal("ADJOIN_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: the web console's browser test needs it (apt-get install chromium); " +
		"set ADJOIN_REQUIRE_CHROMIUM=1 to fail instead of skipping")
	return ""
}

// TestConsoleInChromium drives the web console of `adjoin dev` in a real headless Chromium,
// on the real pipeline fed with the OTRF Shire recordings: search by DOMAIN\sam, the entity
// page's badges as GetBadge gives them, the identity side turned off (both badges greyed,
// with the reason), turned on again, and the status page. Screenshots of each step are kept
// in the test's artifact directory (go test -artifacts; make test keeps them under
// build/test-artifacts).
func TestConsoleInChromium(t *testing.T) {
	browserPath := chromium(t)
	dcsync := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	lsass := sample.Read(t, "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json")
	s := startStack(t)
	if r, code := post(t, s.DCURL, dcsync); code != http.StatusOK || len(r.Rejected) != 0 {
		t.Fatalf("DC post: %d, rejected %v", code, r.Rejected)
	}
	if r, code := post(t, s.EndpointURL, lsass); code != http.StatusOK || len(r.Rejected) != 0 {
		t.Fatalf("endpoint post: %d, rejected %v", code, r.Rejected)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		if b := s.badge(t, `THESHIRE\pgustavo`); b.GetIdentity().GetTotal() != 1 || b.GetEndpoint().GetTotal() != 1 {
			return fmt.Errorf("pgustavo identity %d endpoint %d, want 1 1", b.GetIdentity().GetTotal(), b.GetEndpoint().GetTotal())
		}
		return nil
	})
	s.settled(t)
	// The incident builder follows CORRELATED on its own: wait until it placed pgustavo in an
	// incident (the recordings give one: the DCSync alert, naming pgustavo and WORKSTATION5).
	var incs []*adjoinv1.Incident
	testkit.Eventually(t, 30*time.Second, func() error {
		resp, err := s.badges.ListEntityIncidents(context.Background(), &adjoinv1.ListEntityIncidentsRequest{
			Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: `THESHIRE\pgustavo`}}})
		if err != nil {
			return err
		}
		incs = resp.GetIncidents()
		if len(incs) == 0 || len(incs[0].GetEntityKeys()) < 2 {
			return fmt.Errorf("pgustavo's incidents %v, want one with another entity", incs)
		}
		return nil
	})
	t.Logf("pgustavo's incident %s: %q, reasons %v", incs[0].GetId(), incs[0].GetTitle(), incs[0].GetReasons())

	shots := t.ArtifactDir()
	t.Logf("console screenshots: %s", shots)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browserPath), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1400), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	run := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	read := func(step string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(bctx, a)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return strings.TrimSpace(v)
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), png, 0o644)
		})
	}
	// agrees checks that the page shows both sides' badges as GetBadge gives them: live or
	// greyed (saying so in words), and the count.
	agrees := func(b *adjoinv1.Badge) {
		t.Helper()
		for _, side := range []*adjoinv1.SideBadge{b.GetIdentity(), b.GetEndpoint()} {
			id := strings.ToLower(strings.TrimPrefix(side.GetSide().String(), "SIDE_"))
			sel := "#badge-" + id
			known, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(sel), "data-known"))
			if err != nil {
				t.Fatalf("read the %s badge: %v", id, err)
			}
			total := read("read the "+id+" count", chromedp.Text(chromedp.CSS(sel+" dd.total")))
			state := read("read the "+id+" state", chromedp.Text(chromedp.CSS(sel+" p.state")))
			if known.Value != fmt.Sprint(side.GetKnown()) || total != fmt.Sprint(side.GetTotal()) ||
				strings.Contains(strings.ToLower(state), "greyed") == side.GetKnown() {
				t.Errorf("%s badge on the page: known %s, total %s, %q; GetBadge: known %v total %d reason %s",
					id, known.Value, total, state, side.GetKnown(), side.GetTotal(), side.GetGreyedReason())
			}
		}
	}

	// Search by DOMAIN\sam and land on the entity page.
	run("search",
		chromedp.Navigate(s.BadgeURL+"/console/"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), `THESHIRE\pgustavo`),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.ID("entity-name")),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
		shot("1-entity.png"))
	if name := read("entity name", chromedp.Text(chromedp.ID("entity-name"))); name != `THESHIRE\pgustavo` {
		t.Errorf("entity page title %q, want THESHIRE\\pgustavo", name)
	}
	agrees(s.badge(t, `THESHIRE\pgustavo`))

	// The incidents the entity belongs to, as ListEntityIncidents gives them: each with its
	// title, its reasons in words and the other entities, linked.
	run("incidents", chromedp.WaitVisible(chromedp.CSS("#incidents article.incident")),
		chromedp.ScrollIntoView(chromedp.ID("incidents")), shot("1b-incidents.png"))
	type shown struct {
		ID, Title, Severity string
		Reasons, Others     []string
	}
	page, err := chromedp.Run(bctx, chromedp.Evaluate[[]shown](`Array.from(document.querySelectorAll("#incidents article.incident")).map(a => ({
		ID: a.id.replace(/^incident-/, ""), Title: a.querySelector("h3").textContent.trim(),
		Severity: a.querySelector("dd.severity").textContent.trim(),
		Reasons: Array.from(a.querySelectorAll("ul.reasons li")).map(li => li.textContent.trim()),
		Others: Array.from(a.querySelectorAll("ul.others a")).map(l => l.getAttribute("href"))}))`))
	if err != nil {
		t.Fatalf("read the incidents: %v", err)
	}
	if len(page) != len(incs) {
		t.Fatalf("the page lists %d incidents, ListEntityIncidents %d: %+v", len(page), len(incs), page)
	}
	pgKey := s.badge(t, `THESHIRE\pgustavo`).GetEntity().GetKey()
	for i, inc := range incs {
		p := page[i]
		if p.ID != inc.GetId() || p.Title != inc.GetTitle() || p.Severity != strings.ToLower(strings.TrimPrefix(inc.GetSeverity().String(), "SEVERITY_")) {
			t.Errorf("incident %d on the page %+v; ListEntityIncidents %s %q %s", i, p, inc.GetId(), inc.GetTitle(), inc.GetSeverity())
		}
		if len(p.Reasons) != len(inc.GetReasons()) {
			t.Errorf("incident %s: %d reasons on the page, %d in the API", inc.GetId(), len(p.Reasons), len(inc.GetReasons()))
		}
		for j, r := range inc.GetReasons() {
			if j < len(p.Reasons) && (!strings.Contains(p.Reasons[j], r.GetAlertId()) || !strings.Contains(p.Reasons[j], r.GetSummary())) {
				t.Errorf("incident %s reason %d reads %q, want alert %s and %q", inc.GetId(), j, p.Reasons[j], r.GetAlertId(), r.GetSummary())
			}
		}
		var others []string
		for _, k := range inc.GetEntityKeys() {
			if k != pgKey {
				others = append(others, "/console/entity/"+k)
			}
		}
		if strings.Join(p.Others, " ") != strings.Join(others, " ") {
			t.Errorf("incident %s: other entities on the page %v, want %v", inc.GetId(), p.Others, others)
		}
	}

	// Turn the identity side off: both badges grey, saying why.
	run("toggle off",
		chromedp.Click(chromedp.ID("toggle-identity-off")),
		chromedp.WaitVisible(chromedp.ID("toggle-identity-on")),
		chromedp.WaitVisible(chromedp.CSS("#badge-identity.greyed")),
		chromedp.WaitVisible(chromedp.CSS("#badge-endpoint.greyed")),
		chromedp.WaitVisible(chromedp.CSS("#integration.off")),
		shot("2-identity-off-greyed.png"))
	if reason := read("greyed reason", chromedp.Text(chromedp.CSS("#badge-endpoint .reason"))); !strings.Contains(reason, "one of the two integration toggles is off") {
		t.Errorf("greyed endpoint badge says %q, want the integration-off reason", reason)
	}
	b := s.badge(t, `THESHIRE\pgustavo`)
	if b.GetIdentity().GetGreyedReason() != adjoinv1.GreyedReason_GREYED_REASON_INTEGRATION_OFF || b.GetIntegrationEnabled() {
		t.Errorf("GetBadge after the toggle: identity %s, integration %v", b.GetIdentity().GetGreyedReason(), b.GetIntegrationEnabled())
	}
	agrees(b)

	// And on again: the badges come back live.
	run("toggle on",
		chromedp.Click(chromedp.ID("toggle-identity-on")),
		chromedp.WaitVisible(chromedp.ID("toggle-identity-off")),
		chromedp.WaitVisible(chromedp.CSS("#integration.on")),
		chromedp.WaitVisible(chromedp.CSS("#badge-identity.live")),
		shot("3-identity-on.png"))
	agrees(s.badge(t, `THESHIRE\pgustavo`))

	// The status page: both toggles on, data received on both sides.
	run("status page",
		chromedp.Click(chromedp.CSS(`a[href="/console/status"]`)),
		chromedp.WaitVisible(chromedp.ID("side-identity")),
		shot("4-status.png"))
	if row := read("status identity row", chromedp.Text(chromedp.ID("side-identity"))); !strings.Contains(row, "on") || strings.Contains(row, "never") {
		t.Errorf("status page identity row %q: want the toggle on and data received", row)
	}
	// The toggles above came from this browser: the row names the console as their author.
	if by := read("identity toggled by", chromedp.Text(chromedp.CSS("#side-identity .changed-by"))); !strings.HasPrefix(by, "console:") {
		t.Errorf("status page says the identity side was toggled by %q, want the console caller", by)
	}
}
