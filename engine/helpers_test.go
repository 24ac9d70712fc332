package engine_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// cond is a condition written in Go, standing in for compiled CEL.
type cond struct {
	src  string
	refs []socred.Ref
	fn   func(f socred.Facts) bool
}

func (c *cond) Eval(f socred.Facts) bool { return c.fn(f) }
func (c *cond) Refs() []socred.Ref       { return c.refs }
func (c *cond) String() string           { return c.src }

// scoreBelow is `score(scheme) < n`.
func scoreBelow(scheme string, n int64) *cond {
	return &cond{
		src:  "score(\"" + scheme + "\") < " + strconv.FormatInt(n, 10),
		refs: []socred.Ref{{Func: "score", Scheme: scheme}},
		fn: func(f socred.Facts) bool {
			s, ok := f.Score(scheme)
			return ok && s < n
		},
	}
}

// gradeIs is `grade(scheme) == g`.
func gradeIs(scheme, g string) *cond {
	return &cond{
		src:  "grade(\"" + scheme + "\") == \"" + g + "\"",
		refs: []socred.Ref{{Func: "grade", Scheme: scheme}},
		fn: func(f socred.Facts) bool {
			x, ok := f.Grade(scheme)
			return ok && x == g
		},
	}
}

// countAtLeast is `count(scheme, rule, window) >= n`.
func countAtLeast(scheme, rule, window string, n int64) *cond {
	w := socred.MustParseDuration(window)
	return &cond{
		src:  "count(\"" + scheme + "\", \"" + rule + "\", \"" + window + "\") >= " + strconv.FormatInt(n, 10),
		refs: []socred.Ref{{Func: "count", Scheme: scheme, Rule: rule, Window: w}},
		fn: func(f socred.Facts) bool {
			c, ok := f.Count(scheme, rule, w)
			return ok && c >= n
		},
	}
}

func i64(n int64) *int64 { return &n }

// testPack is a small pack with every mechanic the engine implements.
func testPack() *socred.Pack {
	d := socred.MustParseDuration
	p := &socred.Pack{
		Authorities: []*socred.Authority{{ID: "city"}, {ID: "court"}, {ID: "railway"}, {ID: "transport"}},
		Relations:   []*socred.RelationType{{ID: "guarantor-of"}, {ID: "legal-representative-of"}},
		Actions: []*socred.Action{
			{ID: "ride-train"}, {ID: "buy-luxury"}, {ID: "hire-taxi"}, {ID: "buy-flight"},
			{ID: "free-bike", Privilege: true},
		},
		Schemes: []*socred.Scheme{
			{
				ID: "city", Authority: "city", LegalBasis: "city art. 1", Baseline: 1000, Min: i64(0), Max: i64(2000),
				Scope: socred.Scope{Kind: socred.Person, Region: "rongcheng"},
				Grades: []socred.Band{
					{Grade: "AAA", Min: 1050, HasMin: true}, {Grade: "AA", Min: 1030, HasMin: true},
					{Grade: "A", Min: 960, HasMin: true}, {Grade: "B", Min: 850, HasMin: true},
					{Grade: "C", Min: 600, HasMin: true}, {Grade: "D"},
				},
				Rules: []*socred.Rule{
					{ID: "blood", Points: 5, CountsFor: d("2y"), LegalBasis: "annex 1"},
					{ID: "charity", Points: 30, CountsFor: d("1y"), LegalBasis: "annex 1"},
					{ID: "red-light", Points: -5, CountsFor: d("1y"), LegalBasis: "RTSL art. 90"},
					{ID: "loan-default", Points: -50, CountsFor: d("5y"), LegalBasis: "annex 2",
						Joint: []socred.Joint{{Relation: "guarantor-of", Points: -45}}},
					{ID: "big", Points: -3000, CountsFor: d("30d"), LegalBasis: "test clamp"},
				},
			},
			{
				ID: "taxi", Authority: "transport", LegalBasis: "taxi art. 1", Baseline: 100,
				Scope: socred.Scope{Groups: []string{"taxi-driver"}},
				Rules: []*socred.Rule{{ID: "refused-fare", Points: -10, CountsFor: d("6mo"), LegalBasis: "taxi art. 9"}},
			},
		},
		Lists: []*socred.List{
			{ID: "city-black", Kind: socred.Black, Authority: "city", LegalBasis: "art. 14", Cond: scoreBelow("city", 960)},
			{ID: "city-aaa", Kind: socred.Red, Authority: "city", LegalBasis: "art. 11", Cond: gradeIs("city", "AAA")},
			{ID: "red-repeat", Kind: socred.Black, Authority: "transport", LegalBasis: "art. 20", Cond: countAtLeast("city", "red-light", "30d", 2)},
			{ID: "taxi-black", Kind: socred.Black, Authority: "transport", LegalBasis: "taxi art. 12", Cond: scoreBelow("taxi", 80)},
			{ID: "defaulters", Kind: socred.Black, Authority: "court", LegalBasis: "SPC 2017", Designated: true,
				Term: d("2y"), MaxTerm: d("5y"), ExtendsTo: []string{"legal-representative-of"}, Publish: true, PublishAfter: d("10d")},
		},
		Measures: []*socred.Measure{
			{ID: "black-no-train", List: "city-black", Restricts: []string{"ride-train", "buy-luxury"}, Authority: "railway", LegalBasis: "art. 15"},
			{ID: "aaa-bikes", List: "city-aaa", Grants: []string{"free-bike"}, Authority: "city", LegalBasis: "art. 11(3)"},
			{ID: "repeat-no-taxi", List: "red-repeat", Restricts: []string{"hire-taxi"}, Authority: "transport", LegalBasis: "art. 21"},
			{ID: "taxi-suspend", List: "taxi-black", Restricts: []string{"hire-taxi"}, Authority: "transport", LegalBasis: "taxi art. 13"},
			{ID: "def-no-fly", List: "defaulters", Restricts: []string{"buy-flight", "ride-train", "buy-luxury"}, Authority: "court", LegalBasis: "SPC 2015 art. 3"},
			{ID: "def-no-bike", List: "defaulters", Restricts: []string{"free-bike"}, Authority: "city", LegalBasis: "SPC 2015 art. 3"},
		},
	}
	p.Index()
	return p
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

// fixture is a world with a clock and an id sequence.
type fixture struct {
	tb  testing.TB
	e   *engine.Engine
	w   *engine.World
	seq int64
	now time.Time
	// events are every event applied, in order.
	events []socred.Event
	// records are every record and derived record applied.
	records []*socred.Record
}

func newFixture(tb testing.TB, p *socred.Pack) *fixture {
	tb.Helper()
	e, err := engine.New(p)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{tb: tb, e: e, w: engine.NewWorld(e), now: t0}
}

func (f *fixture) id() int64 { f.seq++; return f.seq }

// apply plans and applies a change at the fixture's clock.
func (f *fixture) apply(c engine.Change) *engine.Plan {
	f.tb.Helper()
	p, err := f.w.Plan(c, f.now, f.id)
	if err != nil {
		f.tb.Fatalf("plan: %v", err)
	}
	if err := f.w.Apply(p); err != nil {
		f.tb.Fatalf("apply: %v", err)
	}
	f.events = append(f.events, p.Events...)
	f.records = append(f.records, c.Records...)
	f.records = append(f.records, p.Derived...)
	return p
}

// advance moves the clock and applies the time-driven changes due.
func (f *fixture) advance(to time.Time) []socred.Event {
	f.tb.Helper()
	f.now = to
	var evs []socred.Event
	for {
		p, _, err := f.w.PlanDue(to, 1000)
		if err != nil {
			f.tb.Fatal(err)
		}
		if len(p.Subjects) == 0 {
			return evs
		}
		if err := f.w.Apply(p); err != nil {
			f.tb.Fatal(err)
		}
		evs = append(evs, p.Events...)
		f.events = append(f.events, p.Events...)
	}
}

func (f *fixture) person(id, region string, groups ...string) {
	f.tb.Helper()
	f.apply(engine.Change{Subjects: []*socred.Subject{{ID: id, Kind: socred.Person, Name: id, Region: region, Groups: groups}}})
}

func (f *fixture) org(id, region string) {
	f.tb.Helper()
	f.apply(engine.Change{Subjects: []*socred.Subject{{ID: id, Kind: socred.Organisation, Name: id, Region: region}}})
}

func (f *fixture) relate(from, rel, to string) {
	f.tb.Helper()
	f.apply(engine.Change{Relate: []socred.Relation{{From: from, Type: rel, To: to}}})
}

// record makes a record of a rule that occurred at the given time.
func (f *fixture) record(subject, scheme, rule string, at time.Time) *socred.Record {
	f.tb.Helper()
	r := f.e.Pack().Scheme(scheme).Rule(rule)
	rec := &socred.Record{
		ID: strconv.FormatInt(f.id(), 10), Key: "k" + strconv.FormatInt(f.seq, 10), Subject: subject, Scheme: scheme, Rule: rule,
		Points: r.Points, OccurredAt: at, CountsUntil: r.CountsFor.AddTo(at), Reporter: "city", AcceptedAt: f.now,
	}
	return rec
}

// report records a rule that occurred now.
func (f *fixture) report(subject, scheme, rule string) *engine.Plan {
	f.tb.Helper()
	return f.apply(engine.Change{Records: []*socred.Record{f.record(subject, scheme, rule, f.now)}})
}

func (f *fixture) designate(list, subject, term string) *socred.Designation {
	f.tb.Helper()
	d := &socred.Designation{
		ID: "d" + strconv.FormatInt(f.id(), 10), List: list, Subject: subject, Authority: "court",
		Reason: "refuses to pay", Case: "(2026) case 1", Since: f.now, Until: socred.MustParseDuration(term).AddTo(f.now),
	}
	f.apply(engine.Change{Designations: []*socred.Designation{d}})
	return d
}

func (f *fixture) standing(subject string) engine.Standing {
	f.tb.Helper()
	st, err := f.w.Standing(subject, f.now)
	if err != nil {
		f.tb.Fatal(err)
	}
	return st
}

func (f *fixture) score(subject, scheme string) (int64, string) {
	f.tb.Helper()
	for _, s := range f.standing(subject).Scores {
		if s.Scheme == scheme {
			return s.Score, s.Grade
		}
	}
	f.tb.Fatalf("%s has no score in %s", subject, scheme)
	return 0, ""
}

func (f *fixture) lists(subject string) []string {
	f.tb.Helper()
	var out []string
	for _, l := range f.standing(subject).Listings {
		s := l.List
		if l.Via != nil {
			s += " via " + l.Via.Subject
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) decide(subject, action string) socred.Decision {
	f.tb.Helper()
	d, err := f.w.Decide(subject, action, f.now)
	if err != nil {
		f.tb.Fatal(err)
	}
	return d
}
