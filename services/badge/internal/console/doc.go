// Package console is the badge service's web console: a second incoming port next to gRPC,
// served under /console/ on the service's HTTP side port. It searches an entity by any name
// form, shows both sides' badges exactly as GetBadge answers them, the entity's timeline and an
// alerts-over-time chart drawn on the server, and the integration status with its toggles.
// Pages update live over server-sent events.
//
// The console translates, it never decides: every answer comes from the same BadgeService
// methods gRPC callers use, and callers are checked with the same roles (read sees, admin
// toggles), from a bearer token, a login session holding one, or a verified client
// certificate. Toggle posts carry a CSRF token and must come from the console's own origin.
// Markup is html/template with embedded files; the only script is a few lines that reload
// the live part of a page when the server says it changed.
package console
