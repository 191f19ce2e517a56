package app

import (
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// NameOwner returns the key of the directory entity whose device name keys (entity.NameKeys)
// include name, found through the directory by the name the key was made from: a lookup, not
// a walk over the directory. exact is false when name may have lost characters on the way (a
// '_', which also stands for what a KV key may not hold, or a part bounded by its hash): a
// miss then proves nothing, and only a walk over every entity is sure.
func (b *Badges) NameOwner(name string) (key string, exact bool) {
	var ref *adjoinv1.EntityRef
	var part string
	bounded := false // natsx.Bound keeps a part of at most MaxToken bytes as is
	switch {
	case strings.HasPrefix(name, "host."):
		part = strings.TrimPrefix(name, "host.")
		bounded = len(part) > natsx.MaxToken
		if strings.Contains(part, ".") {
			ref = &adjoinv1.EntityRef{DnsHostName: part}
		} else {
			ref = &adjoinv1.EntityRef{NetbiosName: part}
		}
	case strings.HasPrefix(name, "user."):
		part = strings.TrimPrefix(name, "user.")
		domain, sam, ok := strings.Cut(part, "/")
		if !ok {
			return "", true
		}
		bounded = len(domain) > natsx.MaxToken || len(sam) > natsx.MaxToken
		ref = &adjoinv1.EntityRef{SamAccountName: domain + `\` + sam}
	default:
		return "", true
	}
	exact = !bounded && !strings.Contains(part, "_")
	m := b.Index.Resolve(ref)
	if m.Entity == nil {
		return "", exact
	}
	for _, k := range entity.NameKeys(m.Entity) {
		if k == name {
			return m.Entity.GetKey(), exact
		}
	}
	return "", exact
}
