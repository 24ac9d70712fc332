package engine_test

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// loadCase is a stored state to load: subjects, and records over them in
// id order, some of rules the pack no longer has, some overturned.
type loadCase struct {
	subjects []*socred.Subject
	records  []socred.CountingRecord
}

func newLoadCase(subjects, records int) loadCase {
	rng := rand.New(rand.NewPCG(1, 2))
	var c loadCase
	for i := range subjects {
		s := &socred.Subject{ID: "p" + strconv.Itoa(i), Kind: socred.Person, Name: "P", Region: "rongcheng", Groups: []string{}}
		if i%3 == 0 {
			s.Groups = []string{"taxi-driver"}
		}
		c.subjects = append(c.subjects, s)
	}
	rules := [][2]string{{"city", "red-light"}, {"city", "blood"}, {"city", "charity"}, {"taxi", "refused-fare"}, {"city", "gone"}}
	for i := range records {
		rule := rules[rng.IntN(len(rules))]
		at := day(-rng.IntN(400))
		c.records = append(c.records, socred.CountingRecord{
			ID: int64(i + 1), Subject: c.subjects[rng.IntN(subjects)].ID, Scheme: rule[0], Rule: rule[1],
			Points: int64(rng.IntN(20) - 10), OccurredAt: at.UnixNano(), CountsUntil: at.AddDate(1, 0, 0).UnixNano(),
			Overturned: rng.IntN(20) == 0,
		})
	}
	return c
}

// byRecord loads c one record at a time.
func (c loadCase) byRecord(t *testing.T, e *engine.Engine) *engine.World {
	t.Helper()
	w := engine.NewWorld(e)
	for _, s := range c.subjects {
		w.LoadSubject(s)
	}
	for i := range c.records {
		if err := w.LoadFact(&c.records[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Settle(t0)
	return w
}

// inBatches loads c's records in batches of random sizes from several
// goroutines at once, each batch a copy that is scribbled over once
// LoadFacts returns.
func (c loadCase) inBatches(t *testing.T, e *engine.Engine, goroutines int) *engine.World {
	t.Helper()
	w := engine.NewWorld(e)
	for _, s := range c.subjects {
		w.LoadSubject(s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	batches := make(chan []socred.CountingRecord)
	go func() {
		for rs := c.records; len(rs) > 0; {
			n := min(len(rs), 1+rng.IntN(700))
			batches <- rs[:n]
			rs = rs[n:]
		}
		close(batches)
	}()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for b := range batches {
				rs := append([]socred.CountingRecord(nil), b...)
				for i := range rs {
					rs[i].Subject = strings.Clone(rs[i].Subject)
				}
				if err := w.LoadFacts(rs); err != nil {
					errs <- err
					return
				}
				clear(rs)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	w.Settle(t0)
	return w
}

// sameWorlds fails unless every subject stands the same in got and want.
func sameWorlds(t *testing.T, subjects []*socred.Subject, got, want *engine.World) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("got %d subjects, want %d", got.Len(), want.Len())
	}
	for _, s := range subjects {
		a, err := got.Standing(s.ID, t0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := want.Standing(s.ID, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s:\n got %+v\nwant %+v", s.ID, a, b)
		}
		an, aok := got.Entry(s.ID).Next()
		bn, bok := want.Entry(s.ID).Next()
		if aok != bok || !an.Equal(bn) {
			t.Fatalf("%s: next change at %v (%v), want %v (%v)", s.ID, an, aok, bn, bok)
		}
	}
}

// Records loaded in batches from several goroutines leave the world as
// records loaded one at a time do.
func TestLoadFactsInBatches(t *testing.T) {
	c := newLoadCase(500, 20_000)
	e, err := engine.New(testPack())
	if err != nil {
		t.Fatal(err)
	}
	want := c.byRecord(t, e)
	for _, goroutines := range []int{1, 4} {
		t.Run(strconv.Itoa(goroutines), func(t *testing.T) {
			sameWorlds(t, c.subjects, c.inBatches(t, e, goroutines), want)
		})
	}
}

// A subject loaded twice is one subject, with the attributes loaded last.
func TestLoadSubjectTwice(t *testing.T) {
	e, err := engine.New(testPack())
	if err != nil {
		t.Fatal(err)
	}
	w := engine.NewWorld(e)
	w.LoadSubject(&socred.Subject{ID: "a", Kind: socred.Person, Name: "A", Region: "elsewhere"})
	w.LoadSubject(&socred.Subject{ID: "b", Kind: socred.Person, Name: "B", Region: "rongcheng"})
	w.LoadSubject(&socred.Subject{ID: "a", Kind: socred.Person, Name: "A2", Region: "rongcheng"})
	at := day(-1)
	err = w.LoadFacts([]socred.CountingRecord{{ID: 1, Subject: "a", Scheme: "city", Rule: "blood", Points: 5,
		OccurredAt: at.UnixNano(), CountsUntil: at.AddDate(2, 0, 0).UnixNano()}})
	if err != nil {
		t.Fatal(err)
	}
	w.Settle(t0)
	if got := w.Len(); got != 2 {
		t.Fatalf("got %d subjects, want 2", got)
	}
	if got := w.Entry("a").Subject.Name; got != "A2" {
		t.Errorf("got name %q, want A2", got)
	}
	st, err := w.Standing("a", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Scores) != 1 || st.Scores[0].Score != 1005 {
		t.Errorf("got scores %+v, want city 1005", st.Scores)
	}
}

// Records of a subject never loaded are refused, in batches as one by one.
func TestLoadFactsUnknownSubject(t *testing.T) {
	e, err := engine.New(testPack())
	if err != nil {
		t.Fatal(err)
	}
	w := engine.NewWorld(e)
	w.LoadSubject(&socred.Subject{ID: "a", Kind: socred.Person, Name: "A", Region: "rongcheng"})
	rs := []socred.CountingRecord{
		{ID: 1, Subject: "a", Scheme: "city", Rule: "blood", Points: 5, CountsUntil: time.Now().UnixNano()},
		{ID: 2, Subject: "nobody", Scheme: "city", Rule: "blood", Points: 5, CountsUntil: time.Now().UnixNano()},
	}
	if err := w.LoadFacts(rs); err == nil || !strings.Contains(err.Error(), `unknown subject "nobody"`) {
		t.Errorf("LoadFacts: got %v, want unknown subject", err)
	}
	if err := w.LoadFact(&rs[1]); err == nil || !strings.Contains(err.Error(), `unknown subject "nobody"`) {
		t.Errorf("LoadFact: got %v, want unknown subject", err)
	}
}

// A second load, after a Settle, adds to the subjects and records loaded
// by the first.
func TestLoadAfterSettle(t *testing.T) {
	c := newLoadCase(200, 5_000)
	e, err := engine.New(testPack())
	if err != nil {
		t.Fatal(err)
	}
	want := c.byRecord(t, e)

	w := engine.NewWorld(e)
	half := len(c.subjects) / 2
	for _, s := range c.subjects[:half] {
		w.LoadSubject(s)
	}
	w.Settle(t0)
	for _, s := range c.subjects[half:] {
		w.LoadSubject(s)
	}
	if err := w.LoadFacts(c.records); err != nil {
		t.Fatal(err)
	}
	w.Settle(t0)
	sameWorlds(t, c.subjects, w, want)
}
