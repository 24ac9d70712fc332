package engine_test

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// TestPlanOnEqualsSequential applies the same changes to two worlds: one
// plans each change after applying the last, the other plans each change
// on the previous, unapplied plan (as a writer does while the store commits
// the last). Both must end in the same state with the same events.
func TestPlanOnEqualsSequential(t *testing.T) {
	for seed := range 20 {
		seq, pipe := newFixture(t, testPack()), newFixture(t, testPack())
		changes := scriptedChanges(seq, uint64(seed))
		pipe.seq = seq.seq // derived records get the same ids in both
		var seqEvents, pipeEvents []socred.Event
		for _, c := range changes {
			p, err := seq.w.Plan(c, seq.now, seq.id)
			if err != nil {
				t.Fatal(err)
			}
			if err := seq.w.Apply(p); err != nil {
				t.Fatal(err)
			}
			seqEvents = append(seqEvents, p.Events...)
		}
		var prev *engine.Plan
		for _, c := range changes {
			p, err := pipe.w.PlanOn(prev, c, pipe.now, pipe.id)
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil {
				if err := pipe.w.Apply(p); err != engine.ErrStale {
					t.Fatalf("applying a plan before its base: got %v, want ErrStale", err)
				}
				if err := pipe.w.Apply(prev); err != nil {
					t.Fatal(err)
				}
				pipeEvents = append(pipeEvents, prev.Events...)
			}
			prev = p
		}
		if err := pipe.w.Apply(prev); err != nil {
			t.Fatal(err)
		}
		pipeEvents = append(pipeEvents, prev.Events...)
		a, _ := json.Marshal(seqEvents)
		b, _ := json.Marshal(pipeEvents)
		if string(a) != string(b) {
			t.Fatalf("seed %d: events differ:\n seq  %s\n pipe %s", seed, a, b)
		}
		for i := range 6 {
			id := "s" + strconv.Itoa(i)
			x, _ := json.Marshal(seq.standing(id))
			y, _ := json.Marshal(pipe.standing(id))
			if string(x) != string(y) {
				t.Fatalf("seed %d: %s differs:\n seq  %s\n pipe %s", seed, id, x, y)
			}
		}
	}
}

// scriptedChanges returns a random but valid sequence of changes over six
// subjects, using f only to build records (the ids it hands out are the
// same in both worlds because both fixtures count alike).
func scriptedChanges(f *fixture, seed uint64) []engine.Change {
	rng := rand.New(rand.NewPCG(seed, 3))
	var cs []engine.Change
	var subs []*socred.Subject
	for i := range 6 {
		kind := socred.Person
		if i == 5 {
			kind = socred.Organisation
		}
		subs = append(subs, &socred.Subject{ID: "s" + strconv.Itoa(i), Kind: kind, Name: "x", Region: "rongcheng"})
	}
	cs = append(cs, engine.Change{Subjects: subs})
	cs = append(cs, engine.Change{Relate: []socred.Relation{{From: "s0", Type: "guarantor-of", To: "s1"}, {From: "s2", Type: "legal-representative-of", To: "s5"}}})
	rules := []string{"blood", "charity", "red-light", "loan-default"}
	for k := range 30 {
		var c engine.Change
		switch rng.IntN(5) {
		case 0:
			c.Designations = []*socred.Designation{{ID: "d" + strconv.Itoa(k), List: "defaulters", Subject: "s" + strconv.Itoa(1+rng.IntN(5)),
				Authority: "court", Reason: "r", Since: f.now, Until: f.now.AddDate(0, 0, 30)}}
		default:
			for range 1 + rng.IntN(4) {
				c.Records = append(c.Records, f.record("s"+strconv.Itoa(rng.IntN(5)), "city", rules[rng.IntN(len(rules))], f.now))
			}
		}
		cs = append(cs, c)
	}
	return cs
}
