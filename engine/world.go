package engine

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred"
)

// World is the in-memory model of every subject: their records, relations,
// designations and evaluated state. It performs no I/O.
//
// Changes happen in two steps so that a caller can make them durable in
// between: Plan works out what a Change does without altering what the World
// shows, and Apply publishes a plan. Plans are made one at a time (a writer
// lock); Decide and the read methods may run concurrently with a Plan and
// with each other; Apply must run alone. A plan made before another plan was
// applied is refused with ErrStale, and a plan that is not applied is simply
// dropped.
type World struct {
	e        *Engine
	subjects map[string]*Entry
	due      dueHeap
	version  uint64
	last     *Plan          // the plan applied last
	load     *loading       // from the first LoadSubject to Settle
	loadMu   [64]sync.Mutex // guards the facts of subjects loaded before, by subject hash
}

// ErrStale is returned by Apply for a plan made against an older World.
var ErrStale = errors.New("engine: plan is stale: the world changed after it was made")

// NewWorld returns an empty world for the engine's pack.
func NewWorld(e *Engine) *World {
	return &World{e: e, subjects: make(map[string]*Entry)}
}

// Engine returns the world's engine.
func (w *World) Engine() *Engine { return w.e }

// Len returns the number of subjects.
func (w *World) Len() int { return len(w.subjects) }

// Entry returns the subject's entry, or nil.
func (w *World) Entry(id string) *Entry { return w.subjects[id] }

// Change is a set of writes to apply at one moment.
type Change struct {
	Subjects []*socred.Subject // new subjects or new attributes
	Relate   []socred.Relation
	Unrelate []socred.Relation
	// Records are new records with their ids assigned.
	Records []*socred.Record
	// Designations are new designations, or new versions of existing ones
	// (same id: ended early, or extended).
	Designations []*socred.Designation
	// Overturn names records (by id, with their subject) that an appeal
	// overturned: they stop counting everywhere, with the joint-liability
	// records derived from them.
	Overturn []RecordRef
	// Touch names subjects to bring up to the plan's moment, applying the
	// time-driven changes due by then.
	Touch []string
	// Stored says the change was planned and stored by another server: its
	// records include those derived from them, so none are derived again.
	Stored bool
}

// RecordRef names one record of one subject.
type RecordRef struct {
	Subject string
	ID      string
}

// Plan is what a Change does: the subjects' new states, the joint-liability
// records derived from the change's records, and the events that follow.
type Plan struct {
	// Derived are the joint-liability records made from the change's
	// records, ids assigned, in order.
	Derived []*socred.Record
	// Events are the changes in the subjects' standing, in order.
	Events []socred.Event
	// Subjects lists the subjects whose state changed.
	Subjects []string

	version uint64 // the world version Apply expects
	base    *Plan  // the unapplied plan this one builds on, if any
	// index gives the position of each subject the plan touches in order
	// and ents, its planned entry: one map, looked up once a subject.
	index map[string]int32
	order []string
	ents  []*Entry
}

// Entry returns the planned entry of a subject the plan touches, or nil.
func (p *Plan) Entry(id string) *Entry {
	if i, ok := p.index[id]; ok {
		return p.ents[i]
	}
	return nil
}

type planner struct {
	w     *World
	p     *Plan
	now   int64
	nowT  time.Time
	newID func() int64
	works []*work // by position in p.order
}

// work is what a plan does to one subject.
type work struct {
	ent *Entry
	// before is the subject's state before the change, caught up to now;
	// nil for a new subject.
	before *Entry
	// known is how many of ent.facts existed before the change.
	known   int
	touched []int32 // schemes with new records
	rules   []int32 // rules of the new records
	full    bool    // needs full evaluation
	desig   bool    // designations changed
}

// Plan works out the effect of c at now without changing the world. newID
// assigns ids to derived records.
func (w *World) Plan(c Change, now time.Time, newID func() int64) (*Plan, error) {
	pl := newPlanner(w, now, newID)
	if err := pl.apply(c); err != nil {
		return nil, err
	}
	pl.finish()
	return pl.p, nil
}

// PlanOn is Plan for a world in which base, made earlier and not yet
// applied, has been applied: it lets a writer plan the next change while
// the store commits the last. Apply base first; if base is dropped, drop
// the plans made on it too.
func (w *World) PlanOn(base *Plan, c Change, now time.Time, newID func() int64) (*Plan, error) {
	pl := newPlanner(w, now, newID)
	if base != nil {
		pl.p.base, pl.p.version = base, base.version+1
	}
	if err := pl.apply(c); err != nil {
		return nil, err
	}
	pl.finish()
	return pl.p, nil
}

func newPlanner(w *World, now time.Time, newID func() int64) *planner {
	return &planner{
		w:     w,
		p:     &Plan{version: w.version, index: map[string]int32{}},
		now:   now.UnixNano(),
		nowT:  now.UTC(),
		newID: newID,
	}
}

// entry returns the work on a subject, its entry a working copy caught up
// to now.
func (pl *planner) entry(id string) (*work, error) {
	if i, ok := pl.p.index[id]; ok {
		return pl.works[i], nil
	}
	old := pl.published(id)
	if old == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "subject %q not found", id)
	}
	ent := old.clone()
	wk := &work{ent: ent, before: old}
	if pl.catchUp(ent, pl.now) {
		wk.before = ent.snapshot()
	}
	wk.known = len(ent.facts)
	// Keyed by the subject's own id, not the caller's copy of it: the
	// world's map takes its keys from the plans applied to it, and a key
	// that is the very string its callers look up with (Service interns
	// records' subjects) is found without reading its bytes.
	pl.add(old.Subject.ID, wk)
	return wk, nil
}

// add makes wk the plan's work on subject id.
func (pl *planner) add(id string, wk *work) {
	pl.p.index[id] = int32(len(pl.p.order)) // #nosec G115 -- a plan touches at most the world's subjects, and positions are 32-bit as the loader's are
	pl.p.order = append(pl.p.order, id)
	pl.p.ents = append(pl.p.ents, wk.ent)
	pl.works = append(pl.works, wk)
}

// catchUp applies the time-driven changes that fell due up to now, each at
// its own moment, emitting their events. It reports whether any fell due.
func (pl *planner) catchUp(ent *Entry, now int64) bool {
	id := ent.Subject.ID
	caught := false
	for ent.next <= now {
		caught = true
		prev := ent.snapshot()
		at := ent.next
		pl.w.e.evaluate(ent, at, evalOpts{full: true, designations: true, events: &pl.p.Events, known: len(ent.facts)})
		before := func(s string) *Entry {
			if s == id {
				return prev
			}
			return pl.lookup(s)
		}
		after := func(s string) *Entry {
			if s == id {
				return ent
			}
			return pl.lookup(s)
		}
		pl.p.Events = pl.w.e.diff(pl.p.Events, prev, ent, at)
		var cands viaCands
		cands.note(prev, ent)
		pl.p.Events = pl.w.e.viaDiff(pl.p.Events, cands.order, before, after, at)
	}
	return caught
}

func (pl *planner) apply(c Change) error {
	e := pl.w.e
	if n := len(c.Subjects) + len(c.Records) + len(c.Touch); len(pl.works) == 0 && n > 8 {
		// About a subject a record: sized once, not grown by doubling.
		pl.p.index = make(map[string]int32, n)
		pl.p.order, pl.p.ents, pl.works = make([]string, 0, n), make([]*Entry, 0, n), make([]*work, 0, n)
	}
	for i, s := range c.Subjects {
		if err := s.Validate(); err != nil {
			return prefixed("subjects["+strconv.Itoa(i)+"]", err)
		}
		wk, err := pl.entry(s.ID)
		if err != nil {
			wk = &work{ent: &Entry{slot: &dueSlot{subject: s.ID, index: -1}, next: never, at: pl.now}}
			pl.add(s.ID, wk)
		}
		e.setSubject(wk.ent, s)
		wk.full = true
	}
	for _, r := range c.Relate {
		if err := pl.relate(r, true); err != nil {
			return err
		}
	}
	for _, r := range c.Unrelate {
		if err := pl.relate(r, false); err != nil {
			return err
		}
	}
	for _, id := range c.Touch {
		if _, err := pl.entry(id); err != nil {
			return err
		}
	}
	for i, r := range c.Records {
		if err := pl.record(r, !c.Stored); err != nil {
			return prefixed("records["+strconv.Itoa(i)+"]", err)
		}
	}
	for _, d := range c.Designations {
		if li, ok := e.listIx[d.List]; !ok || !e.lists[li].Designated {
			return socred.FieldErrorf("list", "%q is not a designated list", d.List)
		}
		wk, err := pl.entry(d.Subject)
		if err != nil {
			return err
		}
		ent := wk.ent
		if i := slices.IndexFunc(ent.desigs, func(x *socred.Designation) bool { return x.ID == d.ID }); i >= 0 {
			ent.desigs = slices.Clone(ent.desigs)
			ent.desigs[i] = d
		} else {
			ent.desigs = append(ent.desigs, d)
		}
		wk.desig = true
	}
	for _, ref := range c.Overturn {
		if err := pl.overturn(ref); err != nil {
			return err
		}
	}
	return nil
}

func prefixed(prefix string, err error) error {
	var ae *socred.Error
	if errors.As(err, &ae) && ae.Code == socred.EINVALID && ae.Field != "" {
		return &socred.Error{Code: ae.Code, Field: prefix + "." + ae.Field, Message: prefix + "." + ae.Message}
	}
	return err
}

func (pl *planner) relate(r socred.Relation, add bool) error {
	if pl.w.e.pack.Relation(r.Type) == nil {
		return socred.FieldErrorf("type", "unknown relation type %q", r.Type)
	}
	fw, err := pl.entry(r.From)
	if err != nil {
		return err
	}
	tw, err := pl.entry(r.To)
	if err != nil {
		return err
	}
	from, to := fw.ent, tw.ent
	out, in := edge{rel: r.Type, other: r.To}, edge{rel: r.Type, other: r.From}
	if add {
		if !slices.Contains(from.out, out) {
			from.out = insertEdge(from.out, out)
			to.in = insertEdge(to.in, in)
		}
	} else {
		from.out = slices.DeleteFunc(slices.Clone(from.out), func(x edge) bool { return x == out })
		to.in = slices.DeleteFunc(slices.Clone(to.in), func(x edge) bool { return x == in })
	}
	return nil
}

// insertEdge adds x to edges kept in order of (other, rel), so that
// listings and reasons through relations come in a stable order.
func insertEdge(edges []edge, x edge) []edge {
	i, _ := slices.BinarySearchFunc(edges, x, func(a, b edge) int {
		if a.other != b.other {
			return strings.Compare(a.other, b.other)
		}
		return strings.Compare(a.rel, b.rel)
	})
	return slices.Insert(edges, i, x)
}

// record adds a record, and when derive is set the joint-liability records
// derived from it.
func (pl *planner) record(r *socred.Record, derive bool) error {
	e := pl.w.e
	f, err := e.Fact(r)
	if err != nil {
		return socred.FieldErrorf("rule", "%v", err)
	}
	wk, err := pl.entry(r.Subject)
	if err != nil {
		return err
	}
	ent := wk.ent
	if ent.scopePos(f.Scheme) < 0 {
		return socred.FieldErrorf("subject", "subject %q is outside the scope of scheme %q", r.Subject, r.Scheme)
	}
	pl.addFact(wk, f)
	if r.DerivedFrom != nil || !derive {
		return nil
	}
	rule := e.rules[f.Rule]
	for _, j := range rule.Joint {
		for _, in := range ent.in {
			if in.rel != j.Relation {
				continue
			}
			gw, err := pl.entry(in.other)
			if err != nil {
				return err
			}
			if gw.ent.scopePos(f.Scheme) < 0 {
				continue
			}
			d := &socred.Record{
				ID:          strconv.FormatInt(pl.newID(), 10),
				Subject:     in.other,
				Scheme:      r.Scheme,
				Rule:        r.Rule,
				Points:      j.Points,
				OccurredAt:  r.OccurredAt,
				CountsUntil: r.CountsUntil,
				Reporter:    r.Reporter,
				Evidence:    r.Evidence,
				AcceptedAt:  r.AcceptedAt,
				DerivedFrom: &socred.Derivation{Record: r.ID, Subject: r.Subject, Relation: j.Relation},
			}
			df, err := e.Fact(d)
			if err != nil {
				return err
			}
			pl.addFact(gw, df)
			pl.p.Derived = append(pl.p.Derived, d)
		}
	}
	return nil
}

func (pl *planner) addFact(wk *work, f Fact) {
	if f.Overturned || f.Until <= pl.now {
		return // it never counts again: nothing to keep
	}
	wk.ent.facts = append(wk.ent.facts, f)
	if !slices.Contains(wk.touched, f.Scheme) {
		wk.touched = append(wk.touched, f.Scheme)
	}
	if !slices.Contains(wk.rules, f.Rule) {
		wk.rules = append(wk.rules, f.Rule)
	}
}

func (pl *planner) overturn(ref RecordRef) error {
	id, err := strconv.ParseInt(ref.ID, 10, 64)
	if err != nil {
		return socred.FieldErrorf("record", "%q is not a record id", ref.ID)
	}
	wk, err := pl.entry(ref.Subject)
	if err != nil {
		return err
	}
	for i := range wk.ent.facts {
		if wk.ent.facts[i].ID == id {
			wk.ent.mutableFacts()
			wk.ent.facts[i].Overturned = true
			wk.full = true
		}
	}
	return nil
}

// finish evaluates every touched entry and collects the events.
func (pl *planner) finish() {
	e := pl.w.e
	var cands viaCands
	// Most subjects a plan touches change their standing (a score): about
	// an event each, sized once.
	pl.p.Events = slices.Grow(pl.p.Events, len(pl.p.order))
	for _, wk := range pl.works {
		e.evaluate(wk.ent, pl.now, evalOpts{full: wk.full, touched: wk.touched, rules: wk.rules, designations: wk.desig, events: &pl.p.Events, known: wk.known})
		pl.p.Events = e.diff(pl.p.Events, wk.before, wk.ent, pl.now)
		cands.note(wk.before, wk.ent)
	}
	before := func(s string) *Entry {
		if i, ok := pl.p.index[s]; ok {
			return pl.works[i].before
		}
		return pl.published(s)
	}
	pl.p.Events = e.viaDiff(pl.p.Events, cands.order, before, pl.lookup, pl.now)
	pl.p.Subjects = pl.p.order
}

// lookup finds a subject's entry as the plan sees it.
func (pl *planner) lookup(id string) *Entry {
	if i, ok := pl.p.index[id]; ok {
		return pl.p.ents[i]
	}
	return pl.published(id)
}

// published finds a subject's entry as it stands before this plan: in the
// plan it builds on, or in the world.
func (pl *planner) published(id string) *Entry {
	if b := pl.p.base; b != nil {
		if i, ok := b.index[id]; ok {
			return b.ents[i]
		}
	}
	return pl.w.subjects[id]
}

// Apply publishes a plan. A plan made on another must come right after it.
func (w *World) Apply(p *Plan) error {
	if p.version != w.version || (p.base != nil && w.last != p.base) {
		return ErrStale
	}
	w.version++
	w.last, p.base = p, nil
	for i, id := range p.order {
		ent := p.ents[i]
		w.subjects[id] = ent
		w.due.set(ent.slot, ent.next)
	}
	return nil
}
