package engine

import (
	"time"

	"github.com/socred/socred"
)

// current returns the entry as it stands at now: itself when no
// time-driven change fell due since it was evaluated, otherwise a caught-up
// copy (the world is not changed; the scheduler publishes the change).
func (e *Engine) current(ent *Entry, now int64) *Entry {
	if ent == nil || ent.next > now {
		return ent
	}
	c := ent.clone()
	for c.next <= now {
		e.evaluate(c, c.next, evalOpts{full: true, designations: true})
	}
	return c
}

// Decide answers whether the subject may do the action at now, with every
// measure that bears on the answer. Ordinary actions are allowed unless a
// measure restricts them; privilege actions are denied unless a measure
// grants them (and none restricts them). An allowed ordinary action costs no
// allocation.
func (w *World) Decide(subject, action string, now time.Time) (socred.Decision, error) {
	e := w.e
	n := now.UnixNano()
	ent := e.current(w.subjects[subject], n)
	if ent == nil {
		return socred.Decision{}, socred.Errorf(socred.ENOTFOUND, "subject %q not found", subject)
	}
	ai, ok := e.actionIx[action]
	if !ok {
		return socred.Decision{}, socred.Errorf(socred.ENOTFOUND, "action %q not found", action)
	}
	restricted, granted := false, false
	for _, h := range ent.own {
		l := e.lists[h.List]
		restricted = restricted || len(l.restricts[ai]) > 0
		granted = granted || len(l.grants[ai]) > 0
	}
	for _, o := range ent.out {
		p := e.current(w.subjects[o.other], n)
		if p == nil {
			continue
		}
		for _, h := range p.own {
			l := e.lists[h.List]
			if l.extends[o.rel] {
				restricted = restricted || len(l.restricts[ai]) > 0
				granted = granted || len(l.grants[ai]) > 0
			}
		}
	}
	d := socred.Decision{
		Subject:   subject,
		Action:    action,
		Allowed:   !restricted && (!e.actions[ai].Privilege || granted),
		CheckedAt: now,
	}
	if e.actions[ai].Privilege && !granted {
		d.Why = e.privilegeWhy[ai]
	}
	if restricted || granted {
		d.Reasons = e.reasons(ent, ai, nil, nil)
		for _, o := range ent.out {
			if p := e.current(w.subjects[o.other], n); p != nil {
				d.Reasons = e.reasons(p, ai, &socred.Via{Subject: o.other, Relation: o.rel}, d.Reasons)
			}
		}
	}
	return d, nil
}

// reasons appends the measures of ent's own listings that restrict or grant
// action ai; with via set, only those of lists that extend through via's
// relation, reported as reaching the subject via it.
func (e *Engine) reasons(ent *Entry, ai int32, via *socred.Via, rs []socred.Reason) []socred.Reason {
	for _, h := range ent.own {
		l := e.lists[h.List]
		if via != nil && !l.extends[via.Relation] {
			continue
		}
		ls := e.listing(ent.Subject.ID, h, via)
		remedy := l.remedy
		if via != nil {
			remedy = l.remedyVia
		}
		for _, m := range l.restricts[ai] {
			rs = append(rs, reason(ls, m, socred.Restricts, remedy))
		}
		for _, m := range l.grants[ai] {
			rs = append(rs, reason(ls, m, socred.Grants, ""))
		}
	}
	return rs
}

func reason(ls socred.Listing, m *socred.Measure, eff socred.Effect, remedy string) socred.Reason {
	return socred.Reason{
		List:       ls.List,
		Measure:    m.ID,
		Effect:     eff,
		Authority:  m.Authority,
		LegalBasis: m.LegalBasis,
		Since:      ls.Since,
		Until:      ls.Until,
		Via:        ls.Via,
		Why:        ls.Reason,
		Remedy:     remedy,
	}
}

// Standing is a subject's evaluated state at one moment.
type Standing struct {
	Subject  *socred.Subject
	Scores   []socred.Score
	Listings []socred.Listing // own listings, then those through relations
	// Next is the next moment the state changes by time alone, its
	// listings through relations too; zero when nothing is due to change.
	Next time.Time
}

// Standing returns the subject's scores and listings at now.
func (w *World) Standing(subject string, now time.Time) (Standing, error) {
	e := w.e
	n := now.UnixNano()
	ent := e.current(w.subjects[subject], n)
	if ent == nil {
		return Standing{}, socred.Errorf(socred.ENOTFOUND, "subject %q not found", subject)
	}
	st := Standing{Subject: ent.Subject, Scores: make([]socred.Score, 0, len(ent.scope))}
	for p, si := range ent.scope {
		sc := e.schemes[si]
		st.Scores = append(st.Scores, socred.Score{Scheme: sc.ID, Score: ent.scores[p].value, Grade: ent.scores[p].grade, Baseline: sc.Baseline})
	}
	for _, h := range ent.own {
		st.Listings = append(st.Listings, e.listing(subject, h, nil))
	}
	lookup := func(id string) *Entry { return e.current(w.subjects[id], n) }
	next := never
	if t, ok := ent.Next(); ok {
		next = t.UnixNano()
	}
	for _, v := range e.inherited(ent, lookup) {
		via := v.via
		st.Listings = append(st.Listings, e.listing(subject, v.held, &via))
		// A listing that reaches the subject through a relation ends
		// with its term, or else may end when the related subject's
		// state next changes.
		end := v.held.Until
		if end == 0 {
			if t, ok := lookup(via.Subject).Next(); ok {
				end = t.UnixNano()
			}
		}
		if end != 0 && end > n {
			next = min(next, end)
		}
	}
	if next != never {
		st.Next = ts(next)
	}
	return st, nil
}
