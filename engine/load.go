package engine

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/socred/socred"
)

// Loading a world from a store: LoadSubject, LoadRelation, LoadFact,
// LoadDesignation and LoadListing add stored state without evaluating it;
// Settle then evaluates every subject at the moment the stored state was
// last brought up to date. None of them may run concurrently with anything
// else on the world, except LoadFact with itself: a store may stream its
// records from several goroutines at once.

// LoadSubject adds a subject.
func (w *World) LoadSubject(s *socred.Subject) {
	ent := w.subjects[s.ID]
	if ent == nil {
		ent = &Entry{slot: &dueSlot{subject: s.ID, index: -1}, next: never, ownsFacts: true}
		w.subjects[s.ID] = ent
	}
	w.e.setSubject(ent, s)
}

// LoadRelation adds a relation between two loaded subjects.
func (w *World) LoadRelation(r socred.Relation) error {
	from, to := w.subjects[r.From], w.subjects[r.To]
	if from == nil || to == nil {
		return fmt.Errorf("relation %v: unknown subject", r)
	}
	from.out = insertEdge(from.out, edge{rel: r.Type, other: r.To})
	to.in = insertEdge(to.in, edge{rel: r.Type, other: r.From})
	return nil
}

// LoadFact adds a record. Records of rules the pack no longer has are
// skipped: they count in no scheme the engine knows. It is safe to call
// from several goroutines at once (and only with itself); Settle puts each
// subject's facts in order.
func (w *World) LoadFact(r *socred.CountingRecord) error {
	ent := w.subjects[r.Subject]
	if ent == nil {
		return fmt.Errorf("record %d: unknown subject %q", r.ID, r.Subject)
	}
	ri, ok := w.e.rule(r.Scheme, r.Rule)
	if !ok || r.Overturned {
		return nil
	}
	f := Fact{
		ID: r.ID, Occurred: r.OccurredAt, Until: r.CountsUntil, Points: int32(r.Points),
		Rule: ri, Scheme: w.e.schemeIx[r.Scheme],
	}
	mu := &w.loadMu[maphash.String(loadSeed, r.Subject)%uint64(len(w.loadMu))]
	mu.Lock()
	if ent.facts == nil {
		ent.facts = make([]Fact, 0, 4)
	}
	ent.facts = append(ent.facts, f)
	mu.Unlock()
	return nil
}

// loadSeed spreads subjects over World.loadMu.
var loadSeed = maphash.MakeSeed()

// LoadDesignation adds a designation that has not ended.
func (w *World) LoadDesignation(d *socred.Designation) error {
	ent := w.subjects[d.Subject]
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
	ent := w.subjects[subject]
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
	now := at.UnixNano()
	ents := make([]*Entry, 0, len(w.subjects))
	for _, ent := range w.subjects {
		ents = append(ents, ent)
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(ents); i += workers {
				w.settle(ents[i], now)
			}
		}()
	}
	wg.Wait()
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
