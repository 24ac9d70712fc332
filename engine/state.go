package engine

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/socred/socred"
)

// never is the "no next change" time.
const never = int64(1<<63 - 1)

// Fact is what the engine keeps of a record: small, so that tens of millions
// fit in memory. Times are Unix nanoseconds; the record counts in
// [Occurred, Until) unless overturned.
type Fact struct {
	ID         int64
	Occurred   int64
	Until      int64
	Points     int32
	Rule       int32
	Scheme     int32
	Overturned bool
}

// points32 returns a record's points as a Fact holds them. The pack check
// keeps a rule's points in range; a record out of it is an error rather
// than a score gone wrong.
func points32(id, points int64) (int32, error) {
	if points < math.MinInt32 || points > math.MaxInt32 {
		return 0, fmt.Errorf("record %d: %d points is out of range", id, points)
	}
	return int32(points), nil
}

func (f *Fact) counting(now int64) bool {
	return !f.Overturned && f.Occurred <= now && now < f.Until
}

// Fact converts a stored record into a fact. Record ids are the store's
// positive decimal sequence numbers.
func (e *Engine) Fact(r *socred.Record) (Fact, error) {
	id, err := strconv.ParseInt(r.ID, 10, 64)
	if err != nil || id <= 0 {
		return Fact{}, fmt.Errorf("record id %q: want a positive decimal number", r.ID)
	}
	ri, ok := e.rule(r.Scheme, r.Rule)
	if !ok {
		return Fact{}, fmt.Errorf("record %s: unknown rule %q of scheme %q", r.ID, r.Rule, r.Scheme)
	}
	points, err := points32(id, r.Points)
	if err != nil {
		return Fact{}, err
	}
	return Fact{
		ID:         id,
		Occurred:   r.OccurredAt.UnixNano(),
		Until:      r.CountsUntil.UnixNano(),
		Points:     points,
		Rule:       ri,
		Scheme:     e.schemeIx[r.Scheme],
		Overturned: r.Overturned,
	}, nil
}

// Held is a subject's own entry on a list (not one that reaches it through
// a relation).
type Held struct {
	List  int32
	Since int64
	Until int64 // 0: until the expression is false
	Desig *socred.Designation
}

type scoreVal struct {
	value int64
	grade string
}

type edge struct {
	rel   string
	other string
}

// Entry is everything the engine knows about one subject, and the state it
// last evaluated. An Entry is immutable once a World publishes it; changes
// make a new Entry.
type Entry struct {
	Subject *socred.Subject
	scope   []int32    // schemes whose scope contains the subject, ascending
	scores  []scoreVal // parallel to scope
	facts   []Fact     // records that count now or will: expired ones are dropped
	// ownsFacts says facts' array belongs to this version alone. Versions
	// share it: a new version appends past the length older versions see,
	// and copies it before changing anything in place.
	ownsFacts bool
	desigs    []*socred.Designation
	own       []Held
	out       []edge // (this, rel, other)
	in        []edge // (other, rel, this)
	at        int64  // when the state was evaluated
	next      int64  // the next moment the state changes by time alone
	slot      *dueSlot
}

// Next returns the next moment the subject's state changes by time alone,
// and false when nothing is due to change.
func (ent *Entry) Next() (time.Time, bool) {
	if ent.next == never {
		return time.Time{}, false
	}
	return time.Unix(0, ent.next).UTC(), true
}

// clone returns a new version of the entry to change. Scores and own
// listings, which evaluation changes in place, are copied; the other slices
// are shared, clipped so that appending copies them, and whoever changes
// them in place copies them first.
func (ent *Entry) clone() *Entry {
	c := *ent
	c.scores = slices.Clone(ent.scores)
	c.own = slices.Clone(ent.own)
	c.ownsFacts = false
	c.scope = slices.Clip(ent.scope)
	c.desigs = slices.Clip(ent.desigs)
	c.out = slices.Clip(ent.out)
	c.in = slices.Clip(ent.in)
	return &c
}

// mutableFacts makes the entry's facts its own, to change them in place.
func (ent *Entry) mutableFacts() {
	if !ent.ownsFacts {
		ent.facts = slices.Clone(ent.facts)
		ent.ownsFacts = true
	}
}

// snapshot returns a copy of the entry for comparison with a later state:
// what diff and viaDiff read is copied, the facts are left out.
func (ent *Entry) snapshot() *Entry {
	c := *ent
	c.scores = slices.Clone(ent.scores)
	c.own = slices.Clone(ent.own)
	c.scope, c.out, c.in = slices.Clip(ent.scope), slices.Clip(ent.out), slices.Clip(ent.in)
	c.facts, c.desigs = nil, nil
	return &c
}

func (ent *Entry) scopePos(si int32) int {
	for i, s := range ent.scope {
		if s == si {
			return i
		}
	}
	return -1
}

// setSubject records the subject's attributes and recomputes its scope.
func (e *Engine) setSubject(ent *Entry, s *socred.Subject) {
	ent.Subject = s
	ent.scope = nil
	for i, sc := range e.schemes {
		if sc.Scope.Contains(s) {
			ent.scope = append(ent.scope, int32(i))
		}
	}
	ent.scores = make([]scoreVal, len(ent.scope))
}

// view is the socred.Facts of one entry at one moment, for conditions.
type view struct {
	e    *Engine
	ent  *Entry
	now  int64
	nowT time.Time
}

func (v *view) Subject() *socred.Subject { return v.ent.Subject }

func (v *view) Score(id string) (int64, bool) {
	si, ok := v.e.schemeIx[id]
	if !ok {
		return 0, false
	}
	p := v.ent.scopePos(si)
	if p < 0 {
		return 0, false
	}
	return v.ent.scores[p].value, true
}

func (v *view) Grade(id string) (string, bool) {
	si, ok := v.e.schemeIx[id]
	if !ok {
		return "", false
	}
	p := v.ent.scopePos(si)
	if p < 0 {
		return "", false
	}
	return v.ent.scores[p].grade, true
}

func (v *view) Count(schemeID, ruleID string, w socred.Duration) (int64, bool) {
	ri, ok := v.e.rule(schemeID, ruleID)
	if !ok || v.ent.scopePos(v.e.schemeIx[schemeID]) < 0 {
		return 0, false
	}
	from := w.SubFrom(v.nowT).UnixNano()
	var n int64
	for i := range v.ent.facts {
		f := &v.ent.facts[i]
		if f.Rule == ri && f.counting(v.now) && f.Occurred > from {
			n++
		}
	}
	return n, true
}

// score recomputes the entry's score in the scheme at scope position p.
func (e *Engine) score(ent *Entry, p int, now int64) {
	sc := e.schemes[ent.scope[p]]
	total := sc.Baseline
	for i := range ent.facts {
		f := &ent.facts[i]
		if f.Scheme == sc.idx && f.counting(now) {
			total += int64(f.Points)
		}
	}
	total = sc.Clamp(total)
	ent.scores[p] = scoreVal{value: total, grade: sc.Grade(total)}
}

// inScope reports whether the entry is in the scope of every scheme the
// list's expression reads.
func (e *Engine) inScope(ent *Entry, l *list) bool {
	for _, si := range l.schemes {
		if ent.scopePos(si) < 0 {
			return false
		}
	}
	return true
}

// holds evaluates an automatic list for the entry.
func (e *Engine) holds(v *view, l *list) bool {
	return e.inScope(v.ent, l) && l.Cond.Eval(v)
}

// setAuto puts the entry on or takes it off automatic list l at now.
func setAuto(ent *Entry, li int32, on bool, now int64) {
	for i, h := range ent.own {
		if h.List == li && h.Desig == nil {
			if !on {
				ent.own = slices.Delete(ent.own, i, i+1)
			}
			return
		}
	}
	if on {
		ent.own = append(ent.own, Held{List: li, Since: now})
	}
}

// evalOpts says what evaluate recomputes.
type evalOpts struct {
	// full recomputes everything; otherwise only the schemes in touched
	// and the lists that read them, which is exact when no time-driven
	// change fell due since the last evaluation.
	full    bool
	touched []int32
	// rules are the rules of the new records (for count windows).
	rules []int32
	// designations recomputes the designated entries.
	designations bool
	// events, when set, receives the records that began or stopped
	// counting since the last evaluation, among the first known facts
	// (the others are new and announced as such).
	events *[]socred.Event
	known  int
}

// evaluate brings the entry's state to now.
func (e *Engine) evaluate(ent *Entry, now int64, o evalOpts) {
	v := &view{e: e, ent: ent, now: now, nowT: time.Unix(0, now).UTC()}
	designations := o.designations
	if o.full {
		if o.events != nil {
			*o.events = e.recordEvents(*o.events, ent, o.known, now)
		}
		// Drop what can no longer matter: facts that stopped counting and
		// designations that ended.
		gone := func(f Fact) bool { return f.Overturned || f.Until <= now }
		if slices.ContainsFunc(ent.facts, gone) {
			ent.mutableFacts()
			ent.facts = slices.DeleteFunc(ent.facts, gone)
		}
		for p := range ent.scope {
			e.score(ent, p, now)
		}
		for _, li := range e.auto {
			setAuto(ent, li, e.holds(v, e.lists[li]), now)
		}
		designations = true
	} else {
		// A list is evaluated again only if something it reads changed:
		// the score or grade of a touched scheme, or a count of a rule with
		// a new record.
		var lists []int32
		for _, si := range o.touched {
			p := ent.scopePos(si)
			if p < 0 {
				continue
			}
			old := ent.scores[p]
			e.score(ent, p, now)
			nw := ent.scores[p]
			for _, li := range e.schemes[si].dependents {
				if !slices.Contains(lists, li) && e.lists[li].reads(si, old.value != nw.value, old.grade != nw.grade, o.rules) {
					lists = append(lists, li)
				}
			}
		}
		for _, li := range lists {
			setAuto(ent, li, e.holds(v, e.lists[li]), now)
		}
	}
	if designations {
		over := func(d *socred.Designation) bool {
			return !d.Until.After(v.nowT) || (d.EndedAt != nil && !d.EndedAt.After(v.nowT))
		}
		if slices.ContainsFunc(ent.desigs, over) {
			ent.desigs = slices.DeleteFunc(slices.Clone(ent.desigs), over)
		}
		ent.own = slices.DeleteFunc(ent.own, func(h Held) bool { return h.Desig != nil })
		for _, d := range ent.desigs {
			if d.Active(v.nowT) {
				ent.own = append(ent.own, Held{List: e.listIx[d.List], Since: d.Since.UnixNano(), Until: d.Until.UnixNano(), Desig: d})
			}
		}
	}
	slices.SortFunc(ent.own, func(a, b Held) int {
		if a.List != b.List {
			return int(a.List - b.List)
		}
		return int(a.Since - b.Since)
	})
	ent.at = now
	ent.next = e.nextChange(ent, now)
}

// recordEvents appends the records among facts[:known] that began or
// stopped counting between the last evaluation and now.
func (e *Engine) recordEvents(events []socred.Event, ent *Entry, known int, now int64) []socred.Event {
	t := ts(now)
	for i := range ent.facts[:known] {
		f := &ent.facts[i]
		was := f.Occurred <= ent.at && ent.at < f.Until // counted at the last evaluation, unless overturned since
		var kind socred.EventKind
		switch {
		case was && (f.Overturned || f.Until <= now):
			kind = socred.EventRecordStopped
		case !was && !f.Overturned && ent.at < f.Occurred && f.Occurred <= now && now < f.Until:
			kind = socred.EventRecordCounting
		default:
			continue
		}
		events = append(events, socred.Event{Kind: kind, Subject: ent.Subject.ID, At: t, Scheme: e.schemes[f.Scheme].ID, Record: strconv.FormatInt(f.ID, 10)})
	}
	return events
}

// nextChange returns the first moment after now at which the entry's state
// can change by time alone: a record begins or stops counting, a count
// window slides past a record, a designation begins or ends, or a listing
// passes its publication grace period.
func (e *Engine) nextChange(ent *Entry, now int64) int64 {
	next := never
	cand := func(t int64) {
		if t > now && t < next {
			next = t
		}
	}
	for i := range ent.facts {
		f := &ent.facts[i]
		if f.Overturned {
			continue
		}
		cand(f.Occurred)
		cand(f.Until)
	}
	for _, li := range e.auto {
		l := e.lists[li]
		if len(l.windows) == 0 || !e.inScope(ent, l) {
			continue
		}
		for _, w := range l.windows {
			for i := range ent.facts {
				f := &ent.facts[i]
				if f.Rule == w.rule && f.counting(now) {
					cand(w.length.AddTo(time.Unix(0, f.Occurred)).UnixNano())
				}
			}
		}
	}
	for _, d := range ent.desigs {
		cand(d.Since.UnixNano())
		cand(d.Until.UnixNano())
		if d.EndedAt != nil {
			cand(d.EndedAt.UnixNano())
		}
	}
	for _, h := range ent.own {
		if l := e.lists[h.List]; l.Publish {
			cand(l.PublishAfter.AddTo(time.Unix(0, h.Since)).UnixNano())
		}
	}
	return next
}

// Relations returns the subject's relations, from it and to it.
func (ent *Entry) Relations() []socred.Relation {
	rs := make([]socred.Relation, 0, len(ent.out)+len(ent.in))
	for _, o := range ent.out {
		rs = append(rs, socred.Relation{From: ent.Subject.ID, Type: o.rel, To: o.other})
	}
	for _, i := range ent.in {
		rs = append(rs, socred.Relation{From: i.other, Type: i.rel, To: ent.Subject.ID})
	}
	return rs
}

// Related reports whether the relation (subject, rel, to) exists.
func (ent *Entry) Related(rel, to string) bool {
	for _, o := range ent.out {
		if o.rel == rel && o.other == to {
			return true
		}
	}
	return false
}
