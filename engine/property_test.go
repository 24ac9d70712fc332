package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// model is a deliberately naive oracle: it keeps the whole history and
// recomputes a subject's standing from scratch by the definitions of the
// scheme-pack format (docs/schemes.md), sharing no code with the engine
// beyond the pack types.
type model struct {
	p        *socred.Pack
	subjects map[string]*socred.Subject
	rels     map[socred.Relation]bool
	records  []*socred.Record
	desigs   []*socred.Designation
}

type modelFacts struct {
	m   *model
	s   *socred.Subject
	now time.Time
}

func (f modelFacts) Subject() *socred.Subject { return f.s }

func (f modelFacts) Score(scheme string) (int64, bool) {
	sc := f.m.p.Scheme(scheme)
	if sc == nil || !sc.Scope.Contains(f.s) {
		return 0, false
	}
	total := sc.Baseline
	for _, r := range f.m.records {
		if r.Subject == f.s.ID && r.Scheme == scheme && r.Counting(f.now) {
			total += r.Points
		}
	}
	return sc.Clamp(total), true
}

func (f modelFacts) Grade(scheme string) (string, bool) {
	s, ok := f.Score(scheme)
	if !ok {
		return "", false
	}
	return f.m.p.Scheme(scheme).Grade(s), true
}

func (f modelFacts) Count(scheme, rule string, w socred.Duration) (int64, bool) {
	sc := f.m.p.Scheme(scheme)
	if sc == nil || !sc.Scope.Contains(f.s) {
		return 0, false
	}
	var n int64
	from := w.SubFrom(f.now)
	for _, r := range f.m.records {
		if r.Subject == f.s.ID && r.Scheme == scheme && r.Rule == rule && r.Counting(f.now) && r.OccurredAt.After(from) {
			n++
		}
	}
	return n, true
}

// own returns the subject's own listings at now as "list" or "list#designation".
func (m *model) own(id string, now time.Time) []string {
	s := m.subjects[id]
	var out []string
	for _, l := range m.p.Lists {
		if l.Designated {
			for _, d := range m.desigs {
				if d.Subject == id && d.List == l.ID && d.Active(now) {
					out = append(out, l.ID+"#"+d.ID)
				}
			}
			continue
		}
		inScope := true
		for _, ref := range l.Cond.Refs() {
			inScope = inScope && m.p.Scheme(ref.Scheme).Scope.Contains(s)
		}
		if inScope && l.Cond.Eval(modelFacts{m: m, s: s, now: now}) {
			out = append(out, l.ID)
		}
	}
	return out
}

// listings returns own listings then those through relations.
func (m *model) listings(id string, now time.Time) []string {
	out := m.own(id, now)
	for r := range m.rels {
		if r.From != id {
			continue
		}
		for _, o := range m.own(r.To, now) {
			l := m.p.List(o[:max(0, indexOr(o, '#'))])
			if l.Extends(r.Type) {
				out = append(out, o+" via "+r.To)
			}
		}
	}
	slices.Sort(out)
	return out
}

func indexOr(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}

func engineListings(st engine.Standing) []string {
	var out []string
	for _, l := range st.Listings {
		s := l.List
		if l.Designation != "" {
			s += "#" + l.Designation
		}
		if l.Via != nil {
			s += " via " + l.Via.Subject
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func eventKey(e socred.Event) string {
	s := e.Subject + " " + e.Listing.List
	if e.Listing.Designation != "" {
		s += "#" + e.Listing.Designation
	}
	if e.Listing.Via != nil {
		s += " via " + e.Listing.Via.Subject
	}
	return s
}

// TestIncrementalEqualsFullRecompute plays random histories through the
// engine and checks, after every step, that every subject's scores, grades,
// listings and decisions equal the oracle's full recompute, and that the
// listed/delisted events replay to the same listings.
func TestIncrementalEqualsFullRecompute(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		t.Run(strconv.Itoa(seed), func(t *testing.T) { playHistory(t, uint64(seed), 120) })
	}
}

func playHistory(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := testPack()
	f := newFixture(t, p)
	m := &model{p: p, subjects: map[string]*socred.Subject{}, rels: map[socred.Relation]bool{}}
	held := map[string]bool{} // listings as the events tell them
	regions := []string{"rongcheng", "rongcheng", "elsewhere"}
	relTypes := []string{"guarantor-of", "legal-representative-of"}
	ids := func() []string {
		var out []string
		for id := range m.subjects {
			out = append(out, id)
		}
		slices.Sort(out)
		return out
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	applyEvents := func(evs []socred.Event) {
		for _, e := range evs {
			switch e.Kind {
			case socred.EventListed:
				held[eventKey(e)] = true
			case socred.EventDelisted:
				delete(held, eventKey(e))
			}
		}
	}
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d after steps:\n  %s\n%s", seed, joinLines(log), fmt.Sprintf(format, args...))
	}

	for step := 0; step < steps; step++ {
		var c engine.Change
		scheduled := false
		switch op := rng.IntN(100); {
		case op < 10 || len(m.subjects) < 2:
			if len(m.subjects) >= 8 {
				continue
			}
			kind := socred.Person
			if rng.IntN(4) == 0 {
				kind = socred.Organisation
			}
			s := &socred.Subject{ID: "s" + strconv.Itoa(len(m.subjects)), Kind: kind, Name: "x", Region: pick(regions)}
			if rng.IntN(3) == 0 {
				s.Groups = []string{"taxi-driver"}
			}
			c.Subjects = []*socred.Subject{s}
			log = append(log, fmt.Sprintf("subject %+v", *s))
		case op < 14:
			old := m.subjects[pick(ids())]
			s := *old
			s.Region = pick(regions)
			s.Groups = nil
			if rng.IntN(2) == 0 {
				s.Groups = []string{"taxi-driver"}
			}
			c.Subjects = []*socred.Subject{&s}
			log = append(log, fmt.Sprintf("update %+v", s))
		case op < 24:
			r := socred.Relation{From: pick(ids()), Type: pick(relTypes), To: pick(ids())}
			if r.From == r.To {
				continue
			}
			if rng.IntN(3) == 0 {
				c.Unrelate = []socred.Relation{r}
				log = append(log, fmt.Sprintf("unrelate %v", r))
			} else {
				c.Relate = []socred.Relation{r}
				log = append(log, fmt.Sprintf("relate %v", r))
			}
		case op < 60:
			id := pick(ids())
			var schemes []*socred.Scheme
			for _, sc := range p.Schemes {
				if sc.Scope.Contains(m.subjects[id]) {
					schemes = append(schemes, sc)
				}
			}
			if len(schemes) == 0 {
				continue
			}
			sc := schemes[rng.IntN(len(schemes))]
			rule := sc.Rules[rng.IntN(len(sc.Rules))]
			if rule.ID == "big" && rng.IntN(4) != 0 {
				continue
			}
			at := f.now.Add(-time.Duration(rng.IntN(60*24)) * time.Hour)
			if rng.IntN(10) == 0 {
				at = f.now.Add(time.Duration(rng.IntN(5)) * time.Minute)
			}
			rec := f.record(id, sc.ID, rule.ID, at)
			c.Records = []*socred.Record{rec}
			log = append(log, fmt.Sprintf("record %s %s/%s at %s", id, sc.ID, rule.ID, at.Format(time.RFC3339)))
		case op < 68:
			id := pick(ids())
			if slices.ContainsFunc(m.desigs, func(d *socred.Designation) bool { return d.Subject == id && d.Active(f.now) }) {
				continue
			}
			term := pick([]string{"12h", "30d", "1y", "2y"})
			d := &socred.Designation{ID: "d" + strconv.FormatInt(f.id(), 10), List: "defaulters", Subject: id, Authority: "court", Reason: "r",
				Since: f.now, Until: socred.MustParseDuration(term).AddTo(f.now)}
			c.Designations = []*socred.Designation{d}
			log = append(log, fmt.Sprintf("designate %s for %s", id, term))
		case op < 74:
			var active []*socred.Designation
			for _, d := range m.desigs {
				if d.Active(f.now) {
					active = append(active, d)
				}
			}
			if len(active) == 0 {
				continue
			}
			d := *active[rng.IntN(len(active))]
			if rng.IntN(2) == 0 {
				at := f.now
				d.EndedAt = &at
				log = append(log, fmt.Sprintf("end %s", d.ID))
			} else {
				d.Until = d.Until.AddDate(0, 0, 1+rng.IntN(100))
				log = append(log, fmt.Sprintf("extend %s to %s", d.ID, d.Until.Format(time.RFC3339)))
			}
			c.Designations = []*socred.Designation{&d}
		case op < 78:
			var own []*socred.Record
			for _, r := range m.records {
				if r.DerivedFrom == nil && !r.Overturned {
					own = append(own, r)
				}
			}
			if len(own) == 0 {
				continue
			}
			r := own[rng.IntN(len(own))]
			c.Overturn = []engine.RecordRef{{Subject: r.Subject, ID: r.ID}}
			for _, d := range m.records {
				if d.DerivedFrom != nil && d.DerivedFrom.Record == r.ID {
					c.Overturn = append(c.Overturn, engine.RecordRef{Subject: d.Subject, ID: d.ID})
				}
			}
			log = append(log, fmt.Sprintf("overturn %s", r.ID))
		case op < 92:
			to := f.now.Add(time.Duration(1+rng.IntN(40*24)) * time.Hour)
			if next, ok := f.w.NextDue(); ok && next.After(f.now) && rng.IntN(2) == 0 {
				// Exactly when the next change falls due, or just before.
				to = next.Add(-time.Duration(rng.IntN(2)))
			}
			log = append(log, fmt.Sprintf("advance to %s", to.Format(time.RFC3339)))
			applyEvents(f.advance(to))
			scheduled = true
		default:
			f.now = f.now.Add(time.Duration(1+rng.IntN(20*24)) * time.Hour)
			log = append(log, fmt.Sprintf("clock to %s (no scheduler)", f.now.Format(time.RFC3339)))
		}
		if !scheduled && (len(c.Subjects)+len(c.Relate)+len(c.Unrelate)+len(c.Records)+len(c.Designations)+len(c.Overturn)) > 0 {
			// The model derives joint liability on its own.
			var wantDerived []string
			for _, r := range c.Records {
				for _, j := range p.Scheme(r.Scheme).Rule(r.Rule).Joint {
					for rel := range m.rels {
						if rel.To == r.Subject && rel.Type == j.Relation && p.Scheme(r.Scheme).Scope.Contains(m.subjects[rel.From]) {
							wantDerived = append(wantDerived, fmt.Sprintf("%s %d", rel.From, j.Points))
						}
					}
				}
			}
			plan := f.apply(c)
			var gotDerived []string
			for _, d := range plan.Derived {
				gotDerived = append(gotDerived, fmt.Sprintf("%s %d", d.Subject, d.Points))
			}
			slices.Sort(wantDerived)
			slices.Sort(gotDerived)
			if !slices.Equal(gotDerived, wantDerived) {
				fail("derived records: got %v, want %v", gotDerived, wantDerived)
			}
			applyEvents(plan.Events)
			for _, s := range c.Subjects {
				m.subjects[s.ID] = s
			}
			for _, r := range c.Relate {
				m.rels[r] = true
			}
			for _, r := range c.Unrelate {
				delete(m.rels, r)
			}
			m.records = append(m.records, c.Records...)
			m.records = append(m.records, plan.Derived...)
			for _, d := range c.Designations {
				if i := slices.IndexFunc(m.desigs, func(x *socred.Designation) bool { return x.ID == d.ID }); i >= 0 {
					m.desigs[i] = d
				} else {
					m.desigs = append(m.desigs, d)
				}
			}
			for _, ref := range c.Overturn {
				for i, r := range m.records {
					if r.ID == ref.ID {
						cp := *r
						cp.Overturned = true
						m.records[i] = &cp
					}
				}
			}
		}

		// Compare every subject with the oracle.
		for _, id := range ids() {
			st, err := f.w.Standing(id, f.now)
			if err != nil {
				fail("standing %s: %v", id, err)
			}
			mf := modelFacts{m: m, s: m.subjects[id], now: f.now}
			var want []string
			for _, sc := range p.Schemes {
				if s, ok := mf.Score(sc.ID); ok {
					want = append(want, fmt.Sprintf("%s=%d%s", sc.ID, s, sc.Grade(s)))
				}
			}
			var got []string
			for _, s := range st.Scores {
				got = append(got, fmt.Sprintf("%s=%d%s", s.Scheme, s.Score, s.Grade))
			}
			if !slices.Equal(got, want) {
				fail("%s scores: got %v, want %v", id, got, want)
			}
			if got, want := engineListings(st), m.listings(id, f.now); !slices.Equal(got, want) {
				fail("%s listings: got %v, want %v", id, got, want)
			}
			for _, a := range p.Actions {
				d, err := f.w.Decide(id, a.ID, f.now)
				if err != nil {
					fail("decide: %v", err)
				}
				if want := modelAllowed(m, id, a, f.now); d.Allowed != want {
					fail("%s %s: got allowed=%v, want %v (reasons %+v)", id, a.ID, d.Allowed, want, d.Reasons)
				}
			}
			if scheduled {
				if next, ok := f.w.Entry(id).Next(); ok && !next.After(f.now) {
					fail("%s: after the scheduler ran, a change is still due at %v", id, next)
				}
			}
		}
		if scheduled {
			var want []string
			for _, id := range ids() {
				for _, l := range m.listings(id, f.now) {
					want = append(want, id+" "+l)
				}
			}
			var got []string
			for k := range held {
				got = append(got, k)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				fail("listings replayed from events: got %v, want %v", got, want)
			}
		}
	}
	checkReload(t, f, m, ids())
}

// checkReload builds a second world from the history as a store would hold
// it and checks that, settled at now, it stands exactly as the first.
func checkReload(t *testing.T, f *fixture, m *model, ids []string) {
	t.Helper()
	w2 := engine.NewWorld(f.e)
	for _, id := range ids {
		w2.LoadSubject(m.subjects[id])
	}
	for r := range m.rels {
		if err := w2.LoadRelation(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range m.records {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		if err := w2.LoadFact(&socred.CountingRecord{ID: id, Subject: r.Subject, Scheme: r.Scheme, Rule: r.Rule, Points: r.Points,
			OccurredAt: r.OccurredAt.UnixNano(), CountsUntil: r.CountsUntil.UnixNano(), Overturned: r.Overturned}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range m.desigs {
		if err := w2.LoadDesignation(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		st, _ := f.w.Standing(id, f.now)
		for _, l := range st.Listings {
			if l.Via == nil && l.Designation == "" {
				if err := w2.LoadListing(id, l.List, l.Since); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	w2.Settle(f.now)
	for _, id := range ids {
		a, _ := f.w.Standing(id, f.now)
		b, _ := w2.Standing(id, f.now)
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Fatalf("reloaded %s:\n got %s\nwant %s", id, jb, ja)
		}
	}
}

func modelAllowed(m *model, id string, a *socred.Action, now time.Time) bool {
	restricted, granted := false, false
	for _, l := range m.listings(id, now) {
		list := m.p.List(l[:indexOr(l[:indexOr(l, ' ')], '#')])
		for _, ms := range list.Measures {
			restricted = restricted || slices.Contains(ms.Restricts, a.ID)
			granted = granted || slices.Contains(ms.Grants, a.ID)
		}
	}
	return !restricted && (!a.Privilege || granted)
}

func joinLines(xs []string) string {
	if len(xs) > 40 {
		xs = xs[len(xs)-40:]
	}
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += "\n  "
		}
		s += x
	}
	return s
}
