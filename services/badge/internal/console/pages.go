package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adjoin/adjoin/pkg/authn"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
)

// page is what every template gets.
type page struct {
	Title   string
	Caller  caller
	CSRF    string
	Auth    bool   // callers are checked: show the logout button
	Query   string // the search box's value
	Message string // an error or notice for the person, shown in an alert region
	Data    any
}

// Role is the caller's role.
func (p page) Role() string { return p.Caller.role }

// Session reports whether the caller signed in (and may sign out).
func (p page) Session() bool { return p.Caller.session != "" }

// Admin reports whether the caller may toggle.
func (p page) Admin() bool { return p.Caller.role == RoleAdmin }

// toggleArgs are what a toggle form needs.
type toggleArgs struct {
	Side       string
	Enabled    bool
	Known      bool // the side's state could be read
	Admin      bool
	CSRF, Back string
}

// ToggleArgs is the form of side's toggle on this page.
func (p page) ToggleArgs(side string) toggleArgs {
	a := toggleArgs{Side: side, Admin: p.Admin(), CSRF: p.CSRF}
	switch d := p.Data.(type) {
	case entityView:
		a.Enabled, a.Known = d.Toggles[side]
		a.Back = d.Path
	case statusView:
		for _, s := range d.Sides {
			if s.ID == side {
				a.Enabled, a.Known = s.Enabled, true
			}
		}
	}
	return a
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range []string{"search", "entity", "status", "login"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page name (or only its live part, for a live reload) with code.
func (h *handler) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.Auth = h.guard.enabled()
	if p.Caller.role != "" {
		p.CSRF = h.guard.csrf(p.Caller)
	}
	tmpl := "layout.html"
	if r.URL.Query().Get("part") == "live" {
		tmpl = "live"
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, tmpl, p); err != nil {
		h.log.Error("console page failed", zap.String("page", name), logx.Err(err))
		http.Error(w, "the page could not be built", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// search finds the entity a query names and sends the browser to its page.
func (h *handler) search(w http.ResponseWriter, r *http.Request, c caller) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	p := page{Title: "Search", Caller: c, Query: q}
	if q == "" {
		h.render(w, r, http.StatusOK, "search", p)
		return
	}
	if len(q) > MaxQuery {
		p.Query, p.Message = "", fmt.Sprintf("The search is %d bytes long; at most %d are accepted.", len(q), MaxQuery)
		h.render(w, r, http.StatusBadRequest, "search", p)
		return
	}
	resp, err := h.api.GetBadge(r.Context(), &adjoinv1.GetBadgeRequest{Selector: &adjoinv1.EntitySelector{
		Selector: &adjoinv1.EntitySelector_Query{Query: q}}})
	if err != nil {
		code, msg := explain(err)
		p.Message = msg
		h.render(w, r, code, "search", p)
		return
	}
	http.Redirect(w, r, entityPath(resp.GetBadge().GetEntity().GetKey()), http.StatusSeeOther)
}

// entity shows an entity's badges, timeline and chart.
func (h *handler) entity(w http.ResponseWriter, r *http.Request, c caller) {
	key := r.PathValue("key")
	sel := &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: key}}
	p := page{Title: "Entity", Caller: c}
	badge, err := h.api.GetBadge(r.Context(), &adjoinv1.GetBadgeRequest{Selector: sel})
	if err != nil {
		code, msg := explain(err)
		p.Message = msg
		h.render(w, r, code, "search", p)
		return
	}
	token := r.URL.Query().Get("page")
	if len(token) > 64 {
		token = "" // not one the API gave out
	}
	alerts, err := h.api.ListEntityAlerts(r.Context(), &adjoinv1.ListEntityAlertsRequest{Selector: sel, PageSize: TimelinePage, PageToken: token})
	if err != nil {
		code, msg := explain(err)
		p.Message = msg
		h.render(w, r, code, "search", p)
		return
	}
	v := newEntityView(badge.GetBadge(), alerts)
	v.Incidents, v.IncidentsError = h.incidents(r.Context(), sel, v.Key)
	if st, err := h.api.GetIntegrationStatus(r.Context(), &adjoinv1.GetIntegrationStatusRequest{}); err == nil {
		v.Toggles = map[string]bool{"identity": st.GetIdentity().GetEnabled(), "endpoint": st.GetEndpoint().GetEnabled()}
	}
	p.Title, p.Data = v.Name, v
	h.render(w, r, http.StatusOK, "entity", p)
}

// incidents returns the incidents of the entity sel names, for its page, or why they could
// not be read.
func (h *handler) incidents(ctx context.Context, sel *adjoinv1.EntitySelector, key string) ([]incidentRow, string) {
	resp, err := h.api.ListEntityIncidents(ctx, &adjoinv1.ListEntityIncidentsRequest{Selector: sel})
	if err != nil {
		_, msg := explain(err)
		return nil, msg
	}
	return newIncidentRows(ctx, key, resp.GetIncidents(), h.entityName), ""
}

// entityName is how the directory names the entity of key, or the key itself.
func (h *handler) entityName(ctx context.Context, key string) string {
	resp, err := h.api.GetBadge(ctx, &adjoinv1.GetBadgeRequest{Selector: &adjoinv1.EntitySelector{
		Selector: &adjoinv1.EntitySelector_EntityKey{EntityKey: key}}})
	if err != nil {
		return key
	}
	return displayName(resp.GetBadge().GetEntity())
}

// status shows the integration status and its toggles.
func (h *handler) status(w http.ResponseWriter, r *http.Request, c caller) {
	p := page{Title: "Integration status", Caller: c}
	switch r.URL.Query().Get("done") {
	case "on", "off":
		p.Message = "The " + r.URL.Query().Get("side") + " side is now " + r.URL.Query().Get("done") + "."
	}
	st, err := h.api.GetIntegrationStatus(r.Context(), &adjoinv1.GetIntegrationStatusRequest{})
	if err != nil {
		code, msg := explain(err)
		p.Message = msg
		h.render(w, r, code, "status", p)
		return
	}
	p.Data = newStatusView(st)
	h.render(w, r, http.StatusOK, "status", p)
}

// toggle turns one side of the integration on or off (admin only), then shows the status.
func (h *handler) toggle(w http.ResponseWriter, r *http.Request, c caller) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !h.guard.csrfOK(c, r.PostForm.Get("csrf")) {
		http.Error(w, "the form is stale or not from this console: reload the page and try again", http.StatusForbidden)
		return
	}
	if c.role != RoleAdmin {
		http.Error(w, "turning the integration on or off needs the admin role", http.StatusForbidden)
		return
	}
	side, ok := map[string]adjoinv1.Side{"identity": adjoinv1.Side_SIDE_IDENTITY, "endpoint": adjoinv1.Side_SIDE_ENDPOINT}[r.PostForm.Get("side")]
	enabled := r.PostForm.Get("enabled")
	if !ok || (enabled != "on" && enabled != "off") {
		http.Error(w, `want side=identity|endpoint and enabled=on|off`, http.StatusBadRequest)
		return
	}
	// The API is called in process, past the gRPC interceptor: the console names the caller.
	ctx := authn.WithSender(r.Context(), c.who)
	if _, err := h.api.SetIntegration(ctx, &adjoinv1.SetIntegrationRequest{Side: side, Enabled: enabled == "on"}); err != nil {
		code, msg := explain(err)
		http.Error(w, msg, code)
		return
	}
	h.log.Info("integration toggled from the console", zap.String("side", side.String()), zap.Bool("enabled", enabled == "on"),
		zap.String("by", c.id))
	next := Prefix + "status?" + url.Values{"side": {r.PostForm.Get("side")}, "done": {enabled}}.Encode()
	if back := r.PostForm.Get("back"); strings.HasPrefix(back, Prefix+"entity/") && !strings.ContainsAny(back, "\\\r\n") {
		next = back // the entity page the toggle was pressed on
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// explain maps an API error to an HTTP code and a sentence for the person.
func explain(err error) (int, string) {
	s, _ := status.FromError(err)
	switch s.Code() {
	case codes.NotFound:
		return http.StatusNotFound, "No entity found: " + s.Message() + "."
	case codes.InvalidArgument:
		return http.StatusBadRequest, "That is not a name the directory knows the shape of (" + s.Message() + "). Try DOMAIN\\sam, a UPN, a SID, a GUID, a DN or a host name."
	case codes.PermissionDenied:
		return http.StatusForbidden, s.Message()
	case codes.Unavailable, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable, "The service cannot answer right now (" + s.Message() + "); try again shortly."
	}
	if errors.Is(err, http.ErrAbortHandler) {
		return http.StatusServiceUnavailable, "aborted"
	}
	return http.StatusInternalServerError, "The request failed: " + s.Message()
}

func entityPath(key string) string { return Prefix + "entity/" + url.PathEscape(key) }
