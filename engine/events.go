package engine

import (
	"slices"
	"time"

	"github.com/socred/socred"
)

func ts(n int64) time.Time { return time.Unix(0, n).UTC() }

// listing renders a held entry as the file and checks show it.
func (e *Engine) listing(subject string, h Held, via *socred.Via) socred.Listing {
	l := e.lists[h.List]
	ls := socred.Listing{
		List:       l.ID,
		Kind:       l.Kind,
		Subject:    subject,
		Since:      ts(h.Since),
		Via:        via,
		Authority:  l.Authority,
		LegalBasis: l.LegalBasis,
	}
	if h.Until != 0 {
		u := ts(h.Until)
		ls.Until = &u
	}
	if d := h.Desig; d != nil {
		ls.Reason, ls.Case, ls.Designation = d.Reason, d.Case, d.ID
		if d.EndedAt != nil && (ls.Until == nil || d.EndedAt.Before(*ls.Until)) {
			ls.Until, ls.EndReason = d.EndedAt, d.EndReason
		}
	} else {
		ls.Reason = l.When
	}
	return ls
}

// sameEntry reports whether a and b are the same entry on a list, perhaps
// with different terms: the same designation, or the same automatic list.
func sameEntry(a, b Held) bool {
	if a.List != b.List || (a.Desig == nil) != (b.Desig == nil) {
		return false
	}
	return a.Desig == nil || a.Desig.ID == b.Desig.ID
}

// sameHeld reports whether a and b are the same entry with the same terms.
func sameHeld(a, b Held) bool {
	if !sameEntry(a, b) || a.Since != b.Since || a.Until != b.Until {
		return false
	}
	return a.Desig == nil || endOf(a.Desig) == endOf(b.Desig)
}

func endOf(d *socred.Designation) time.Time {
	if d.EndedAt != nil {
		return *d.EndedAt
	}
	return time.Time{}
}

// diff appends the events that lead from before to after (before is nil for
// a new subject) for the entry's own standing: scores, grades and own
// listings.
func (e *Engine) diff(events []socred.Event, before, after *Entry, at int64) []socred.Event {
	id := after.Subject.ID
	t := ts(at)
	for p, si := range after.scope {
		sc := e.schemes[si]
		old := scoreVal{value: sc.Clamp(sc.Baseline), grade: sc.Grade(sc.Clamp(sc.Baseline))}
		if before != nil {
			// Mostly the same scope as after, in the same order.
			if p < len(before.scope) && before.scope[p] == si {
				old = before.scores[p]
			} else if q := before.scopePos(si); q >= 0 {
				old = before.scores[q]
			}
		}
		nw := after.scores[p]
		if nw.value != old.value {
			events = append(events, socred.Event{Kind: socred.EventScoreChanged, Subject: id, At: t, Scheme: sc.ID, OldScore: old.value, NewScore: nw.value})
		}
		if nw.grade != old.grade {
			events = append(events, socred.Event{Kind: socred.EventGradeChanged, Subject: id, At: t, Scheme: sc.ID, OldGrade: old.grade, NewGrade: nw.grade})
		}
	}
	var old []Held
	if before != nil {
		old = before.own
	}
	for _, h := range old {
		if !slices.ContainsFunc(after.own, func(x Held) bool { return sameEntry(x, h) }) {
			ls := e.listing(id, h, nil)
			events = append(events, socred.Event{Kind: socred.EventDelisted, Subject: id, At: t, Listing: &ls})
		}
	}
	for _, h := range after.own {
		i := slices.IndexFunc(old, func(x Held) bool { return sameEntry(x, h) })
		switch {
		case i < 0:
			ls := e.listing(id, h, nil)
			events = append(events, socred.Event{Kind: socred.EventListed, Subject: id, At: t, Listing: &ls})
		case !sameHeld(old[i], h):
			ls := e.listing(id, h, nil)
			events = append(events, socred.Event{Kind: socred.EventTermChanged, Subject: id, At: t, Listing: &ls})
		}
		if l := e.lists[h.List]; l.Publish && before != nil {
			pub := l.PublishAfter.AddTo(ts(h.Since)).UnixNano()
			if before.at < pub && pub <= at {
				ls := e.listing(id, h, nil)
				events = append(events, socred.Event{Kind: socred.EventPublished, Subject: id, At: t, Listing: &ls})
			}
		}
	}
	return events
}

// viaCands collects the subjects whose listings through relations may
// have changed from before to after: the subject itself when its relations
// changed, and those related to it when its own listings changed.
type viaCands struct {
	seen  map[string]bool
	order []string
}

func (c *viaCands) add(s string) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if !c.seen[s] {
		c.seen[s] = true
		c.order = append(c.order, s)
	}
}

func (c *viaCands) note(before, after *Entry) {
	var bOut, bIn []edge
	var own []Held
	if before != nil {
		own, bOut, bIn = before.own, before.out, before.in
	}
	if !slices.Equal(bOut, after.out) {
		c.add(after.Subject.ID)
	}
	if !slices.EqualFunc(own, after.own, sameHeld) {
		for _, e := range [][]edge{bIn, after.in} {
			for _, in := range e {
				c.add(in.other)
			}
		}
	}
}

type viaHeld struct {
	held Held
	via  socred.Via
}

// inherited returns the listings that reach the entry through its relations.
func (e *Engine) inherited(ent *Entry, lookup func(string) *Entry) []viaHeld {
	var out []viaHeld
	for _, o := range ent.out {
		p := lookup(o.other)
		if p == nil {
			continue
		}
		for _, h := range p.own {
			if e.lists[h.List].extends[o.rel] {
				out = append(out, viaHeld{held: h, via: socred.Via{Subject: o.other, Relation: o.rel}})
			}
		}
	}
	return out
}

// viaDiff appends listed and delisted events for listings that reach the
// candidates through relations, comparing the world as before and after
// show it.
func (e *Engine) viaDiff(events []socred.Event, cands []string, before, after func(string) *Entry, at int64) []socred.Event {
	t := ts(at)
	sameEnt := func(a, b viaHeld) bool { return a.via == b.via && sameEntry(a.held, b.held) }
	for _, id := range cands {
		var old, nw []viaHeld
		if b := before(id); b != nil {
			old = e.inherited(b, before)
		}
		if a := after(id); a != nil {
			nw = e.inherited(a, after)
		}
		emit := func(kind socred.EventKind, v viaHeld) {
			via := v.via
			ls := e.listing(id, v.held, &via)
			events = append(events, socred.Event{Kind: kind, Subject: id, At: t, Listing: &ls})
		}
		for _, v := range old {
			if !slices.ContainsFunc(nw, func(x viaHeld) bool { return sameEnt(x, v) }) {
				emit(socred.EventDelisted, v)
			}
		}
		for _, v := range nw {
			i := slices.IndexFunc(old, func(x viaHeld) bool { return sameEnt(x, v) })
			switch {
			case i < 0:
				emit(socred.EventListed, v)
			case !sameHeld(old[i].held, v.held):
				emit(socred.EventTermChanged, v)
			}
		}
	}
	return events
}
