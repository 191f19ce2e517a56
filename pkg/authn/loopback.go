package authn

import (
	"net"
	"strings"
)

// Loopback reports whether a listen address reaches this host only: 127.0.0.0/8, ::1 or
// localhost. An empty host (":8081"), 0.0.0.0, :: and any other name or address do not.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
