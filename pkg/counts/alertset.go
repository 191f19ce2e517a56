package counts

// smallSet is how many alerts an entity holds in a slice before it takes a map: a map costs some
// 400 bytes even for one entry, and most entities hold a few alerts.
const smallSet = 32

// alertSet holds an entity's alerts in full.
type alertSet struct {
	small []alertEntry
	big   map[alertID]alertState
}

type alertEntry struct {
	id alertID
	s  alertState
}

func (a *alertSet) get(h alertID) (alertState, bool) {
	if a.big != nil {
		s, ok := a.big[h]
		return s, ok
	}
	for i := range a.small {
		if a.small[i].id == h {
			return a.small[i].s, true
		}
	}
	return alertState{}, false
}

func (a *alertSet) put(h alertID, s alertState) {
	if a.big != nil {
		a.big[h] = s
		return
	}
	for i := range a.small {
		if a.small[i].id == h {
			a.small[i].s = s
			return
		}
	}
	if len(a.small) < smallSet {
		a.small = append(a.small, alertEntry{h, s})
		return
	}
	a.big = make(map[alertID]alertState, 2*smallSet)
	for _, e := range a.small {
		a.big[e.id] = e.s
	}
	a.small = nil
	a.big[h] = s
}

// remove deletes the alerts of hs; a map left with few entries is rebuilt smaller (Go maps keep
// their size after deletes).
func (a *alertSet) remove(hs []alertID) {
	if a.big == nil {
		for _, h := range hs {
			for i := range a.small {
				if a.small[i].id == h {
					a.small = append(a.small[:i], a.small[i+1:]...)
					break
				}
			}
		}
		if len(a.small) == 0 {
			a.small = nil
		}
		return
	}
	before := len(a.big)
	for _, h := range hs {
		delete(a.big, h)
	}
	if len(a.big) > before/2 {
		return
	}
	if len(a.big) <= smallSet {
		small := make([]alertEntry, 0, len(a.big))
		for h, s := range a.big {
			small = append(small, alertEntry{h, s})
		}
		a.small, a.big = small, nil
		return
	}
	big := make(map[alertID]alertState, len(a.big))
	for h, s := range a.big {
		big[h] = s
	}
	a.big = big
}

func (a *alertSet) len() int {
	if a.big != nil {
		return len(a.big)
	}
	return len(a.small)
}

// all yields every alert, in no particular order.
func (a *alertSet) all(yield func(alertID, alertState) bool) {
	if a.big != nil {
		for h, s := range a.big {
			if !yield(h, s) {
				return
			}
		}
		return
	}
	for _, e := range a.small {
		if !yield(e.id, e.s) {
			return
		}
	}
}
