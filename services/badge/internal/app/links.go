package app

import (
	"net/url"
	"strings"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Links builds the deep link of each side's badge from a URL template. Placeholders:
// {entityKey}, {sid}, {deviceId} (the endpoint product's device id), {dnsName} and {sam};
// values are URL-escaped. A template whose placeholders have no value for an entity gives no
// link rather than a broken one.
type Links struct {
	Identity, Endpoint string
	// Override, when set, may supply a template stored at run time (adjoin_config link.<side>).
	Override func(side adjoinv1.Side) (string, bool)
}

// For returns the link of side for entity e, with the endpoint device record if there is one.
func (l Links) For(side adjoinv1.Side, e *adjoinv1.Entity, device *adjoinv1.DeviceRecord) string {
	tmpl := l.Identity
	if side == adjoinv1.Side_SIDE_ENDPOINT {
		tmpl = l.Endpoint
	}
	if l.Override != nil {
		if t, ok := l.Override(side); ok {
			tmpl = t
		}
	}
	if tmpl == "" {
		return ""
	}
	values := map[string]string{
		"{entityKey}": e.GetKey(),
		"{sid}":       e.GetSid(),
		"{deviceId}":  device.GetEdrDeviceId(),
		"{dnsName}":   e.GetDnsHostName(),
		"{sam}":       e.GetSamAccountName(),
	}
	out := tmpl
	for ph, v := range values {
		if !strings.Contains(out, ph) {
			continue
		}
		if v == "" {
			return ""
		}
		out = strings.ReplaceAll(out, ph, url.PathEscape(v))
	}
	return out
}
