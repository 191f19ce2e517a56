package app

import (
	"slices"

	"github.com/adjoin/adjoin/pkg/entity"
)

// NameOwner returns the key of the directory entity whose device name keys (entity.NameKeys)
// include name, found through the directory by the name the key was made from
// (entity.NameKeyRef): a lookup, not a walk over the directory. exact is false when name may
// have lost characters on the way: a miss then proves nothing, another entity may own the
// name too, and only a walk over every entity is sure.
func (b *Badges) NameOwner(name string) (key string, exact bool) {
	ref, exact := entity.NameKeyRef(name)
	if ref == nil {
		return "", exact
	}
	m := b.Index.Resolve(ref)
	if m.Entity == nil || !slices.Contains(entity.NameKeys(m.Entity), name) {
		return "", exact
	}
	return m.Entity.GetKey(), exact
}
