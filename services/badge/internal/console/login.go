package console

import (
	"net/http"
	"strings"
)

// loginPage asks for a token; with nothing to check it goes straight to the search.
func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if !h.guard.enabled() {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Data: safeNext(r.URL.Query().Get("next"))})
}

// loginPost opens a session for a valid token. Cross-site posts are refused by the origin
// check before this runs.
func (h *handler) loginPost(w http.ResponseWriter, r *http.Request) {
	if !h.guard.enabled() {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8192)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	sid, ok := h.guard.login(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok {
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Data: next,
			Message: "That token is not (or no longer) in the badge service's tokens file."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: Prefix, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.guard.logout(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, HttpOnly: true, MaxAge: -1})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") || len(next) > 2*MaxQuery {
		return Prefix
	}
	return next
}
