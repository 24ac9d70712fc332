package engine

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/internal/keyindex"
)

// Loading a world from a store: LoadSubject, LoadRelation, LoadFacts (or
// LoadFact), LoadDesignation and LoadListing add stored state without
// evaluating it; Settle then evaluates every subject at the moment the
// stored state was last brought up to date. None of them may run
// concurrently with anything else on the world, except LoadFacts and
// LoadFact with themselves and each other: a store may stream its records
// from several goroutines at once.
//
// Loading is built for tens of millions of records over millions of
// subjects. From the first LoadSubject to Settle the world keeps the
// subjects it loads in an index of their own, cheaper to probe than the
// subjects map, and keeps the facts LoadFacts reads in the batches they
// came in; Settle hands the facts out to their subjects, each into one
// array of the size it needs, and adds the subjects to the map. Until then
// the world's other methods do not see them.

// LoadSubject adds a subject.
func (w *World) LoadSubject(s *socred.Subject) {
	if w.load == nil {
		w.load = &loading{}
	}
	ld := w.load
	h := keyindex.Hash(s.ID)
	ld.index.Reserve()
	i, free := ld.index.Lookup(s.ID, h)
	var ent *Entry
	switch {
	case i >= 0:
		ent = ld.ents[i]
	case len(w.subjects) > 0 && w.subjects[s.ID] != nil:
		ent = w.subjects[s.ID] // loaded before the last Settle
	default:
		ent = &Entry{slot: &dueSlot{subject: s.ID, index: -1}, next: never, ownsFacts: true}
		ld.index.Insert(free, s.ID, h, int32(len(ld.ents))) // #nosec G115 -- positions are 32-bit by design: 2^31 subjects would not fit in memory
		ld.ents = append(ld.ents, ent)
	}
	w.e.setSubject(ent, s)
}

// loaded returns the entry of a subject loaded, settled or not, or nil.
func (w *World) loaded(id string) *Entry {
	if ld := w.load; ld != nil {
		if i, _ := ld.index.Lookup(id, keyindex.Hash(id)); i >= 0 {
			return ld.ents[i]
		}
	}
	return w.subjects[id]
}

// LoadRelation adds a relation between two loaded subjects.
func (w *World) LoadRelation(r socred.Relation) error {
	from, to := w.loaded(r.From), w.loaded(r.To)
	if from == nil || to == nil {
		return fmt.Errorf("relation %v: unknown subject", r)
	}
	from.out = insertEdge(from.out, edge{rel: r.Type, other: r.To})
	to.in = insertEdge(to.in, edge{rel: r.Type, other: r.From})
	return nil
}

// LoadFact adds a record, like LoadFacts; a store with many records to
// load should rather hand them to LoadFacts in batches.
func (w *World) LoadFact(r *socred.CountingRecord) error {
	var rk ruleCache
	return w.loadFact(w.loaded(r.Subject), r, &rk)
}

// loadBatch is how many records LoadFacts looks up at once. Probing the
// index for many records in a tight loop lets the processor wait for their
// cache misses together rather than one after another.
const loadBatch = keyindex.Batch

// LoadFacts adds records. Records of rules the pack no longer has are
// skipped: they count in no scheme the engine knows. It is safe to call
// from several goroutines at once (and only with itself); it keeps nothing
// of rs. Settle puts each subject's facts in order.
func (w *World) LoadFacts(rs []socred.CountingRecord) error {
	ld := w.load
	if ld == nil || ld.index.Len() == 0 {
		var rk ruleCache
		for i := range rs {
			if err := w.loadFact(w.subjects[rs[i].Subject], &rs[i], &rk); err != nil {
				return err
			}
		}
		return nil
	}
	out := make([]loadedFact, 0, len(rs))
	var (
		ids    [loadBatch]string
		hashes [loadBatch]uint64
		pos    [loadBatch]int32
		rk     ruleCache
	)
	for len(rs) > 0 {
		b := rs[:min(len(rs), loadBatch)]
		rs = rs[len(b):]
		for i := range b {
			ids[i] = b[i].Subject
			hashes[i] = keyindex.Hash(ids[i])
		}
		ld.index.LookupAll(ids[:len(b)], hashes[:len(b)], pos[:len(b)])
		for i := range b {
			r := &b[i]
			if pos[i] < 0 {
				// Not a subject of this load: one loaded before, or none.
				if err := w.loadFact(w.subjects[r.Subject], r, &rk); err != nil {
					return err
				}
				continue
			}
			ri, si, ok := rk.lookup(w.e, r.Scheme, r.Rule)
			if !ok || r.Overturned {
				continue
			}
			points, err := points32(r.ID, r.Points)
			if err != nil {
				return err
			}
			out = append(out, loadedFact{
				ID: r.ID, Occurred: r.OccurredAt, Until: r.CountsUntil, Points: points,
				Rule: ri, Scheme: si, ent: pos[i],
			})
		}
	}
	if len(out) > 0 {
		ld.mu.Lock()
		ld.facts = append(ld.facts, out)
		ld.mu.Unlock()
	}
	return nil
}

// loadFact adds a record of ent, nil for an unknown subject, to the entry
// itself, under one of World.loadMu.
func (w *World) loadFact(ent *Entry, r *socred.CountingRecord, rk *ruleCache) error {
	if ent == nil {
		return fmt.Errorf("record %d: unknown subject %q", r.ID, r.Subject)
	}
	ri, si, ok := rk.lookup(w.e, r.Scheme, r.Rule)
	if !ok || r.Overturned {
		return nil
	}
	points, err := points32(r.ID, r.Points)
	if err != nil {
		return err
	}
	f := Fact{ID: r.ID, Occurred: r.OccurredAt, Until: r.CountsUntil, Points: points, Rule: ri, Scheme: si}
	mu := &w.loadMu[keyindex.Hash(r.Subject)%uint64(len(w.loadMu))]
	mu.Lock()
	if ent.facts == nil {
		ent.facts = make([]Fact, 0, 4)
	}
	ent.facts = append(ent.facts, f)
	mu.Unlock()
	return nil
}

// ruleCache remembers the rule of the record before: records come with a
// handful of distinct schemes and rules, usually the same strings.
type ruleCache struct {
	schemeID, ruleID string
	ri, si           int32
	ok, set          bool
}

func (c *ruleCache) lookup(e *Engine, scheme, rule string) (ri, si int32, ok bool) {
	if !c.set || scheme != c.schemeID || rule != c.ruleID {
		c.ri, c.ok = e.rule(scheme, rule)
		c.si = e.schemeIx[scheme]
		c.schemeID, c.ruleID, c.set = scheme, rule, true
	}
	return c.ri, c.si, c.ok
}

// LoadDesignation adds a designation that has not ended.
func (w *World) LoadDesignation(d *socred.Designation) error {
	ent := w.loaded(d.Subject)
	if ent == nil {
		return fmt.Errorf("designation %s: unknown subject %q", d.ID, d.Subject)
	}
	if li, ok := w.e.listIx[d.List]; !ok || !w.e.lists[li].Designated {
		return nil // the list is gone from the pack
	}
	ent.desigs = append(ent.desigs, d)
	return nil
}

// LoadListing restores when a subject entered an automatic list, so that
// Settle keeps the stored date for a listing that still holds.
func (w *World) LoadListing(subject, list string, since time.Time) error {
	ent := w.loaded(subject)
	if ent == nil {
		return fmt.Errorf("listing %s: unknown subject %q", list, subject)
	}
	li, ok := w.e.listIx[list]
	if !ok || w.e.lists[li].Designated {
		return nil
	}
	ent.own = append(ent.own, Held{List: li, Since: since.UnixNano()})
	return nil
}

// Settle evaluates every loaded subject at at, the moment up to which the
// stored state is known to be current, keeping the stored dates of
// automatic listings that still hold and scheduling each subject's next
// change. It uses every CPU.
func (w *World) Settle(at time.Time) {
	workers := runtime.GOMAXPROCS(0)
	var ents []*Entry
	if ld := w.load; ld != nil {
		w.load = nil
		var wg sync.WaitGroup
		wg.Go(func() { w.addLoaded(ld.ents) })
		ld.place(workers)
		wg.Wait()
		if len(ld.ents) == len(w.subjects) {
			ents = ld.ents // every subject, in the order loaded
		}
	}
	if ents == nil {
		ents = make([]*Entry, 0, len(w.subjects))
		for _, ent := range w.subjects {
			ents = append(ents, ent)
		}
	}
	now := at.UnixNano()
	parallel(workers, len(ents), func(lo, hi int) {
		for _, ent := range ents[lo:hi] {
			w.settle(ent, now)
		}
	})
	w.due = w.due[:0]
	for _, ent := range ents {
		ent.slot.index = -1
		if ent.next != never {
			ent.slot.at = ent.next
			ent.slot.index = len(w.due)
			w.due = append(w.due, ent.slot)
		}
	}
	heapInit(&w.due)
	w.version++
}

// addLoaded adds the subjects a load added to the subjects map, made to
// size when it is empty.
func (w *World) addLoaded(ents []*Entry) {
	if len(w.subjects) == 0 {
		w.subjects = make(map[string]*Entry, len(ents))
	}
	for _, ent := range ents {
		w.subjects[ent.slot.subject] = ent
	}
}

func (w *World) settle(ent *Entry, now int64) {
	if !slices.IsSortedFunc(ent.facts, byID) {
		slices.SortFunc(ent.facts, byID)
	}
	restored := slices.Clone(ent.own)
	ent.own = ent.own[:0]
	w.e.evaluate(ent, now, evalOpts{full: true, designations: true})
	for i, h := range ent.own {
		if h.Desig != nil {
			continue
		}
		if j := slices.IndexFunc(restored, func(r Held) bool { return r.List == h.List }); j >= 0 {
			ent.own[i].Since = restored[j].Since
		}
	}
}

func byID(a, b Fact) int { return cmp.Compare(a.ID, b.ID) }

// parallel calls fn on consecutive blocks of [0, n) from workers
// goroutines, each taking the next block when done with one.
func parallel(workers, n int, fn func(lo, hi int)) {
	const block = 1024
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(block)) - block
				if lo >= n {
					return
				}
				fn(lo, min(lo+block, n))
			}
		})
	}
	wg.Wait()
}

// loading is what a world keeps from the first LoadSubject to Settle. The
// subjects it adds enter the subjects map only in Settle.
type loading struct {
	ents  []*Entry       // the subjects this load added, in order
	index keyindex.Index // their ids → positions in ents

	mu    sync.Mutex
	facts [][]loadedFact // the facts read, a batch at a time
}

// loadedFact is a fact read and the position in loading.ents of its
// subject. Loaded records that were overturned are skipped, so it needs no
// Overturned.
type loadedFact struct {
	ID, Occurred, Until int64
	Points, Rule        int32
	Scheme, ent         int32
}

// place hands the loaded facts out to their subjects. Each subject's
// facts grow once, to the size they end at, and come in the order the
// batches read them: in id order when the batches were.
func (ld *loading) place(workers int) {
	slices.SortFunc(ld.facts, func(a, b []loadedFact) int { return cmp.Compare(a[0].ID, b[0].ID) })
	counts := make([]int32, len(ld.ents))
	for _, b := range ld.facts {
		for i := range b {
			counts[b[i].ent]++
		}
	}
	// Each worker owns a range of subjects, and scans every batch for
	// their facts.
	parts := make([]int32, workers+1)
	for k := range parts {
		parts[k] = int32(len(ld.ents) * k / workers) // #nosec G115 -- at most len(ld.ents), whose positions fit in an int32 (LoadSubject)
	}
	var wg sync.WaitGroup
	for k := range workers {
		lo, hi := parts[k], parts[k+1]
		wg.Go(func() {
			for i, ent := range ld.ents[lo:hi] {
				if n := int(counts[int(lo)+i]); n > 0 {
					ent.facts = slices.Grow(ent.facts, n)
				}
			}
			for _, b := range ld.facts {
				for i := range b {
					f := &b[i]
					if f.ent < lo || f.ent >= hi {
						continue
					}
					ent := ld.ents[f.ent]
					ent.facts = append(ent.facts, Fact{
						ID: f.ID, Occurred: f.Occurred, Until: f.Until, Points: f.Points, Rule: f.Rule, Scheme: f.Scheme,
					})
				}
			}
		})
	}
	wg.Wait()
	ld.facts = nil
}
