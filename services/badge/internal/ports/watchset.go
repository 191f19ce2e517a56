package ports

import (
	"slices"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/badge/internal/app"
)

// watchSet is what one WatchBadges stream follows: the entities it named, or every entity.
// It maps a changed key to the watched badges it may change with lookups: for named entities
// through their device name keys, noted when the watch starts and again whenever it builds an
// entity's badge; for a watch of every entity through the directory (NameOwner). It
// builds no entity for a change that touches none of them, so the cost of a change does not
// grow with the number of entities watched or in the directory.
type watchSet struct {
	badges *app.Badges
	all    bool
	keys   map[string][]string // watched entity key -> its device name keys (named watches)
	names  map[string][]string // device name key -> watched entity keys
	// unsure are device name keys NameOwner could not look up exactly, for the next walk.
	unsure map[string]bool
}

// newWatchSet follows keys, or every entity when all.
func newWatchSet(b *app.Badges, keys []string, all bool) *watchSet {
	w := &watchSet{badges: b, all: all, keys: map[string][]string{}, names: map[string][]string{}, unsure: map[string]bool{}}
	for _, k := range keys {
		w.keys[k] = nil
	}
	w.noteAllNames()
	return w
}

// selected lists the watched entities.
func (w *watchSet) selected() []string {
	if w.all {
		return w.badges.Index.Keys()
	}
	out := make([]string, 0, len(w.keys))
	for k := range w.keys {
		out = append(out, k)
	}
	return out
}

// affected maps a changed key (entity key, device name key, or AllKeys) to the watched
// entities whose badge it may change.
func (w *watchSet) affected(key string) []string {
	switch {
	case key == app.AllKeys:
		w.noteAllNames()
		return w.selected()
	case w.all:
		if w.badges.Index.Has(key) {
			return []string{key}
		}
		// A device recorded under a name before the directory knew it.
		owner, exact := w.badges.NameOwner(key)
		if !exact {
			w.unsure[key] = true // its owner may be another entity too: the next walk says
		}
		return nonEmpty(owner)
	}
	if _, ok := w.keys[key]; ok {
		return []string{key} // its names are noted again when its badge is built (noted)
	}
	return w.names[key]
}

// maxUnsure is the most device names a watch of every entity keeps for its next walk: under
// changes that never stop, it walks when that many are waiting, so that the set stays bounded.
const maxUnsure = 4096

// unsureLen is how many names wait for the next walk.
func (w *watchSet) unsureLen() int { return len(w.unsure) }

// walk returns every entity that has one of the unsure names among its device name keys, and
// forgets them. It builds every entity in the directory, so the watch calls it once the
// changes waiting are handled: one walk for all the unsure names of a burst, not one per name.
func (w *watchSet) walk() []string {
	if len(w.unsure) == 0 {
		return nil
	}
	var out []string
	for _, k := range w.badges.Index.Keys() {
		if e, ok := w.badges.Index.Get(k); ok {
			for _, nk := range entity.NameKeys(e) {
				if w.unsure[nk] {
					out = append(out, k)
					break
				}
			}
		}
	}
	clear(w.unsure)
	return out
}

// noteAllNames notes the device name keys of every named entity again.
func (w *watchSet) noteAllNames() {
	if w.all {
		return
	}
	clear(w.names)
	for k := range w.keys {
		w.keys[k] = nil
		e, _ := w.badges.Index.Get(k)
		w.noted(k, e)
	}
}

// noted notes the device name keys of entity key as e, its directory entry just read (nil
// when it is gone), has them, when key is a named entity: the watch calls it with every
// entity it builds, so a rename is followed without building the entity twice.
func (w *watchSet) noted(key string, e *adjoinv1.Entity) {
	old, ok := w.keys[key]
	if w.all || !ok {
		return
	}
	for _, n := range old {
		w.names[n] = slices.DeleteFunc(w.names[n], func(k string) bool { return k == key })
		if len(w.names[n]) == 0 {
			delete(w.names, n)
		}
	}
	var names []string
	if e != nil {
		names = entity.NameKeys(e)
	}
	w.keys[key] = names
	for _, n := range names {
		w.names[n] = append(w.names[n], key)
	}
}

func nonEmpty(key string) []string {
	if key == "" {
		return nil
	}
	return []string{key}
}
