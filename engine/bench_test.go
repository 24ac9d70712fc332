package engine_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
	"github.com/socred/socred/pack"
)

// benchPack returns a pack of n schemes that all apply to persons in the
// region "bench", each with five rules, an automatic blacklist over its
// score and, for every fourth scheme, an escalation list over a count
// window; plus two designated lists. Expressions are real CEL.
func benchPack(tb testing.TB, n int) *socred.Pack {
	tb.Helper()
	var b strings.Builder
	b.WriteString("authorities:\n  - id: city\n    name: City\nrelations:\n  - id: legal-representative-of\nactions:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - id: act-%d\n    name: Action %d\n", i, i)
	}
	b.WriteString("schemes:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - id: s%d
    name: Scheme %d
    authority: city
    legal_basis: "Bench art. %d"
    applies_to: {kind: person, region: bench}
    baseline: 1000
    min: 0
    max: 2000
    grades:
      - {grade: A, min: 1000}
      - {grade: B, min: 950}
      - {grade: C, min: 900}
      - {grade: D}
    rules:
`, i, i, i)
		for r := range 5 {
			fmt.Fprintf(&b, "      - {id: r%d, name: Rule %d, points: %d, counts_for: 2y, legal_basis: \"Bench annex %d\"}\n", r, r, []int{5, -5, 10, -10, -20}[r], r)
		}
	}
	b.WriteString("lists:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: black-%d, name: Black %d, kind: black, authority: city, legal_basis: \"Bench art. 9\", when: 'score(\"s%d\") < 900'}\n", i, i, i)
		if i%4 == 0 {
			fmt.Fprintf(&b, "  - {id: repeat-%d, name: Repeat %d, kind: black, authority: city, legal_basis: \"Bench art. 10\", when: 'count(\"s%d\", \"r1\", \"90d\") >= 3'}\n", i, i, i)
		}
	}
	for i := range 2 {
		fmt.Fprintf(&b, "  - {id: desig-%d, name: Designated %d, kind: black, authority: city, legal_basis: \"Bench art. 11\", designated: true, term: 2y, max_term: 5y, extends_to: [legal-representative-of]}\n", i, i)
	}
	b.WriteString("measures:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: m-black-%d, list: black-%d, restricts: [act-%d], authority: city, legal_basis: \"Bench art. 12\"}\n", i, i, i%5)
	}
	for i := range 2 {
		fmt.Fprintf(&b, "  - {id: m-desig-%d, list: desig-%d, restricts: [act-%d, act-%d], authority: city, legal_basis: \"Bench art. 13\"}\n", i, i, 5+i, 7+i)
	}
	p, probs, err := pack.Load(fstest.MapFS{"bench.yaml": {Data: []byte(b.String())}})
	if err != nil || p == nil {
		tb.Fatalf("bench pack: %v\n%v", err, probs)
	}
	return p
}

// benchWorld returns a world with one subject that has 100 records spread
// over 20 schemes, and a function that makes a new record for it.
func benchWorld(tb testing.TB) (*fixture, func() *socred.Record) {
	tb.Helper()
	f := newFixture(tb, benchPack(tb, 20))
	f.now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.person("z", "bench")
	var recs []*socred.Record
	for i := range 100 {
		recs = append(recs, f.record("z", "s"+strconv.Itoa(i%20), "r"+strconv.Itoa(i%5), f.now.Add(-time.Duration(i)*72*time.Hour)))
	}
	f.apply(engine.Change{Records: recs})
	i := 0
	next := func() *socred.Record {
		i++
		return f.record("z", "s"+strconv.Itoa(i%20), "r"+strconv.Itoa(i%5), f.now)
	}
	return f, next
}

// BenchmarkApplyRecord plans one record for a subject with 100 records in
// 20 schemes in scope: the evaluation the engine does for every record.
func BenchmarkApplyRecord(b *testing.B) {
	f, next := benchWorld(b)
	if n := len(f.standing("z").Scores); n != 20 {
		b.Fatalf("subject in %d schemes, want 20", n)
	}
	recs := make([][]*socred.Record, 1000)
	for i := range recs {
		recs[i] = []*socred.Record{next()}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.w.Plan(engine.Change{Records: recs[i%len(recs)]}, f.now, f.id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyRecordCommitted also publishes each plan, so the subject's
// records grow from 100; the world is rebuilt every 100 records.
func BenchmarkApplyRecordCommitted(b *testing.B) {
	f, next := benchWorld(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 99 {
			b.StopTimer()
			f, next = benchWorld(b)
			b.StartTimer()
		}
		p, err := f.w.Plan(engine.Change{Records: []*socred.Record{next()}}, f.now, f.id)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.w.Apply(p); err != nil {
			b.Fatal(err)
		}
	}
}

// decideWorld returns a world with subject z on three lists.
func decideWorld(tb testing.TB) *fixture {
	f, _ := benchWorld(tb)
	f.designate("desig-0", "z", "2y")
	f.designate("desig-1", "z", "2y")
	var recs []*socred.Record
	for range 6 {
		recs = append(recs, f.record("z", "s3", "r4", f.now))
	}
	f.apply(engine.Change{Records: recs})
	if n := len(f.standing("z").Listings); n != 3 {
		tb.Fatalf("z has %d listings, want 3", n)
	}
	return f
}

// BenchmarkDecideAllowed decides an action none of the subject's three
// listings restricts.
func BenchmarkDecideAllowed(b *testing.B) {
	f := decideWorld(b)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := f.w.Decide("z", "act-0", f.now); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkDecideDenied decides an action one of the three listings
// restricts, building the reasons.
func BenchmarkDecideDenied(b *testing.B) {
	f := decideWorld(b)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := f.w.Decide("z", "act-5", f.now); d.Allowed {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkPlanBatch plans and applies batches of 1,000 records, each for
// one of 100,000 subjects, as the service's group commit does: subjects
// looked up in maps larger than the CPU's caches, a plan that touches a
// thousand of them.
func BenchmarkPlanBatch(b *testing.B) {
	const subjects, batch = 100_000, 1_000
	f := newFixture(b, benchPack(b, 2))
	f.now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ss := make([]*socred.Subject, subjects)
	for i := range ss {
		ss[i] = &socred.Subject{ID: fmt.Sprintf("p%08d", i), Kind: socred.Person, Name: "P", Region: "bench"}
	}
	f.apply(engine.Change{Subjects: ss})
	batches := make([][]*socred.Record, 64)
	for i := range batches {
		for j := range batch {
			id := ss[(i*7919+j*104729)%subjects].ID
			batches[i] = append(batches[i], f.record(id, "s"+strconv.Itoa(j%2), "r"+strconv.Itoa(j%5), f.now))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p, err := f.w.Plan(engine.Change{Records: batches[i%len(batches)]}, f.now, f.id)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.w.Apply(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}
