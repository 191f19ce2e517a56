package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Prefix is where the console is served on the HTTP side port.
const Prefix = "/console/"

// Bounds of what one request may ask or hold.
const (
	// MaxQuery is the longest search accepted, in bytes: longer than any name a directory
	// holds (a DN is at most a few hundred bytes).
	MaxQuery = 1024
	// TimelinePage is how many alerts an entity page shows at once (the API allows more).
	TimelinePage = 50
	// DefaultMaxLive is how many live pages (server-sent event streams) may be open at once.
	DefaultMaxLive = 64
)

// API is the part of the BadgeService the console shows; *ports.GRPCServer is it, so a page
// shows what a gRPC caller would get.
type API interface {
	GetBadge(context.Context, *adjoinv1.GetBadgeRequest) (*adjoinv1.GetBadgeResponse, error)
	ListEntityAlerts(context.Context, *adjoinv1.ListEntityAlertsRequest) (*adjoinv1.ListEntityAlertsResponse, error)
	GetIntegrationStatus(context.Context, *adjoinv1.GetIntegrationStatusRequest) (*adjoinv1.GetIntegrationStatusResponse, error)
	SetIntegration(context.Context, *adjoinv1.SetIntegrationRequest) (*adjoinv1.SetIntegrationResponse, error)
}

// Options are what the console needs.
type Options struct {
	API  API
	Auth Checker // nil or not Enabled: everyone may see and toggle, as on the gRPC side
	// Changes subscribes to the keys of changed badges (app.View.Subscribe); live pages
	// reload when one concerns them.
	Changes func() (<-chan string, func())
	Log     *zap.Logger
	// MaxLive bounds the live pages open at once (0: DefaultMaxLive).
	MaxLive int
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// handler serves the console.
type handler struct {
	api     API
	guard   *guard
	changes func() (<-chan string, func())
	log     *zap.Logger
	pages   map[string]*template.Template
	live    chan struct{} // one token per open live page
	stop    <-chan struct{}
}

// New returns the console's handler, for the paths under Prefix. Live pages end when ctx
// ends, so a shutdown does not wait for browsers to hang up.
func New(ctx context.Context, o Options) (http.Handler, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	if o.MaxLive <= 0 {
		o.MaxLive = DefaultMaxLive
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	h := &handler{api: o.API, guard: newGuard(o.Auth), changes: o.Changes, log: o.Log, pages: pages,
		live: make(chan struct{}, o.MaxLive), stop: ctx.Done()}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+Prefix+"login", h.loginPage)
	mux.HandleFunc("POST "+Prefix+"login", h.loginPost)
	mux.HandleFunc("POST "+Prefix+"logout", h.logout)
	mux.HandleFunc("GET "+Prefix+"{$}", h.seen(h.search))
	mux.HandleFunc("GET "+Prefix+"entity/{key}", h.seen(h.entity))
	mux.HandleFunc("GET "+Prefix+"entity/{key}/events", h.seen(h.entityEvents))
	mux.HandleFunc("GET "+Prefix+"status", h.seen(h.status))
	mux.HandleFunc("GET "+Prefix+"status/events", h.seen(h.statusEvents))
	mux.HandleFunc("POST "+Prefix+"status/toggle", h.seen(h.toggle))
	// Posts must come from the console's own pages (Sec-Fetch-Site or Origin), on top of the
	// CSRF token each form carries.
	cop := http.NewCrossOriginProtection()
	return securityHeaders(cop.Handler(mux)), nil
}

// securityHeaders forbids framing, sniffing and any script or style not from the console.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// seen lets through callers with a role and sends the others to the login page (a browser)
// or answers 401 (anything else).
func (h *handler) seen(next func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := h.guard.who(r)
		if c.role == "" {
			if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
				http.Redirect(w, r, Prefix+"login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="adjoin console"`)
			http.Error(w, "a bearer token, a login or a client certificate is required", http.StatusUnauthorized)
			return
		}
		next(w, r, c)
	}
}
