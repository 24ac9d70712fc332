package engine_test

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// The article's story of Zhang Yingjie: his friend Li defaults on a loan
// Zhang guaranteed; Zhang loses points, lands on the blacklist, may no
// longer take trains or buy luxury goods; he donates blood and gives to
// charity, and gets off the list.
func TestZhangStory(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("li", "rongcheng")
	f.person("zhang", "rongcheng")
	f.relate("zhang", "guarantor-of", "li")

	p := f.report("li", "city", "loan-default")
	if len(p.Derived) != 1 {
		t.Fatalf("got %d derived records, want 1", len(p.Derived))
	}
	d := p.Derived[0]
	if d.Subject != "zhang" || d.Points != -45 || d.DerivedFrom == nil || d.DerivedFrom.Subject != "li" || d.DerivedFrom.Relation != "guarantor-of" {
		t.Errorf("derived record = %+v, want zhang -45 from li via guarantor-of", d)
	}
	if s, g := f.score("zhang", "city"); s != 955 || g != "B" {
		t.Errorf("zhang: got %d %s, want 955 B", s, g)
	}
	if got := f.lists("zhang"); !slices.Equal(got, []string{"city-black"}) {
		t.Errorf("zhang's lists: got %v, want [city-black]", got)
	}
	for _, action := range []string{"ride-train", "buy-luxury"} {
		dec := f.decide("zhang", action)
		if dec.Allowed || len(dec.Reasons) != 1 || dec.Reasons[0].Measure != "black-no-train" || dec.Reasons[0].Authority != "railway" || dec.Reasons[0].LegalBasis != "art. 15" {
			t.Errorf("%s: got %+v, want denied by black-no-train (railway, art. 15)", action, dec)
		}
	}
	if dec := f.decide("zhang", "buy-flight"); !dec.Allowed || dec.Reasons != nil {
		t.Errorf("buy-flight: got %+v, want allowed without reasons", dec)
	}

	f.now = day(20)
	f.report("zhang", "city", "blood")
	if s, _ := f.score("zhang", "city"); s != 960 {
		t.Errorf("after blood donation: got %d, want 960", s)
	}
	if got := f.lists("zhang"); len(got) != 0 {
		t.Errorf("after blood donation zhang is still on %v", got)
	}
	f.report("zhang", "city", "charity")
	if s, g := f.score("zhang", "city"); s != 990 || g != "A" {
		t.Errorf("after charity: got %d %s, want 990 A", s, g)
	}
	if dec := f.decide("zhang", "ride-train"); !dec.Allowed {
		t.Errorf("ride-train after recovery: got %+v, want allowed", dec)
	}
	// The events tell the story for notices.
	var kinds []string
	for _, e := range f.events {
		if e.Subject == "zhang" && (e.Kind == socred.EventListed || e.Kind == socred.EventDelisted) {
			kinds = append(kinds, string(e.Kind)+" "+e.Listing.List+" "+e.At.Format(time.DateOnly))
		}
	}
	want := []string{"listed city-black 2026-01-01", "delisted city-black 2026-01-21"}
	if !slices.Equal(kinds, want) {
		t.Errorf("zhang's listing events: got %v, want %v", kinds, want)
	}
}

func TestScoreClampsAndRecordsExpire(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	f.report("a", "city", "big") // -3000 for 30 days
	if s, g := f.score("a", "city"); s != 0 || g != "D" {
		t.Errorf("got %d %s, want clamped to 0 D", s, g)
	}
	next, ok := f.w.Entry("a").Next()
	if want := day(30); !ok || !next.Equal(want) {
		t.Errorf("next change: got %v %v, want %v", next, ok, want)
	}
	evs := f.advance(day(45))
	if s, _ := f.score("a", "city"); s != 1000 {
		t.Errorf("after expiry: got %d, want 1000", s)
	}
	var stopped, delisted *socred.Event
	for i := range evs {
		switch evs[i].Kind {
		case socred.EventRecordStopped:
			stopped = &evs[i]
		case socred.EventDelisted:
			delisted = &evs[i]
		}
	}
	if stopped == nil || !stopped.At.Equal(day(30)) {
		t.Errorf("record-stopped event: got %+v, want one at %v", stopped, day(30))
	}
	if delisted == nil || !delisted.At.Equal(day(30)) || delisted.Listing.List != "city-black" {
		t.Errorf("delisted event: got %+v, want city-black at %v", delisted, day(30))
	}
}

func TestFutureRecordStartsCounting(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	rec := f.record("a", "city", "charity", f.now.Add(3*time.Minute))
	f.apply(engine.Change{Records: []*socred.Record{rec}})
	if s, _ := f.score("a", "city"); s != 1000 {
		t.Errorf("before it occurred: got %d, want 1000", s)
	}
	evs := f.advance(f.now.Add(time.Hour))
	if s, _ := f.score("a", "city"); s != 1030 {
		t.Errorf("after it occurred: got %d, want 1030", s)
	}
	var kinds []socred.EventKind
	for _, e := range evs {
		if !e.At.Equal(rec.OccurredAt) {
			t.Errorf("event %+v: want it at %v", e, rec.OccurredAt)
		}
		kinds = append(kinds, e.Kind)
	}
	if want := []socred.EventKind{socred.EventRecordCounting, socred.EventScoreChanged, socred.EventGradeChanged}; !slices.Equal(kinds, want) {
		t.Errorf("events: got %v, want %v", kinds, want)
	}
}

func TestGradesAtTheirEdges(t *testing.T) {
	sc := testPack().Scheme("city")
	for _, tc := range []struct {
		score int64
		want  string
	}{{2000, "AAA"}, {1050, "AAA"}, {1049, "AA"}, {1030, "AA"}, {1029, "A"}, {960, "A"}, {959, "B"}, {850, "B"}, {849, "C"}, {600, "C"}, {599, "D"}, {0, "D"}} {
		if got := sc.Grade(tc.score); got != tc.want {
			t.Errorf("grade(%d): got %s, want %s", tc.score, got, tc.want)
		}
	}
	// And through the engine: ten blood donations reach AAA exactly.
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	for i := 0; i < 10; i++ {
		f.report("a", "city", "blood")
		s, g := f.score("a", "city")
		want := sc.Grade(1000 + 5*int64(i+1))
		if s != 1000+5*int64(i+1) || g != want {
			t.Fatalf("after %d donations: got %d %s, want %d %s", i+1, s, g, 1000+5*(i+1), want)
		}
	}
	if got := f.lists("a"); !slices.Equal(got, []string{"city-aaa"}) {
		t.Errorf("at 1050: got lists %v, want [city-aaa]", got)
	}
}

func TestCountWindowSlides(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	f.report("a", "city", "red-light")
	if dec := f.decide("a", "hire-taxi"); !dec.Allowed {
		t.Fatalf("after one red light: got %+v, want allowed", dec)
	}
	f.now = day(29)
	f.report("a", "city", "red-light")
	dec := f.decide("a", "hire-taxi")
	if dec.Allowed || len(dec.Reasons) != 1 || dec.Reasons[0].List != "red-repeat" {
		t.Fatalf("after two red lights in 30 days: got %+v, want denied by red-repeat", dec)
	}
	if next, _ := f.w.Entry("a").Next(); !next.Equal(day(30)) {
		t.Errorf("next change: got %v, want %v (the window slides past the first)", next, day(30))
	}
	evs := f.advance(day(31))
	if dec := f.decide("a", "hire-taxi"); !dec.Allowed {
		t.Errorf("once the window slid past the first: got %+v, want allowed", dec)
	}
	i := slices.IndexFunc(evs, func(e socred.Event) bool { return e.Kind == socred.EventDelisted })
	if i < 0 || !evs[i].At.Equal(day(30)) {
		t.Errorf("events: got %+v, want delisting at %v", evs, day(30))
	}
	// A record exactly one window apart is outside it: (now-window, now].
	g := newFixture(t, testPack())
	g.person("b", "rongcheng")
	g.report("b", "city", "red-light")
	g.now = day(30)
	g.report("b", "city", "red-light")
	if got := g.lists("b"); slices.Contains(got, "red-repeat") {
		t.Errorf("red lights 30 days apart: got %v, want no red-repeat", got)
	}
}

func TestDesignationTermsExtensionAndLegalRepresentatives(t *testing.T) {
	f := newFixture(t, testPack())
	f.org("acme", "rongcheng")
	f.person("wang", "rongcheng")
	f.relate("wang", "legal-representative-of", "acme")
	d := f.designate("defaulters", "acme", "2y")

	dec := f.decide("wang", "buy-flight")
	if dec.Allowed || len(dec.Reasons) != 1 || dec.Reasons[0].Via == nil || dec.Reasons[0].Via.Subject != "acme" || dec.Reasons[0].Via.Relation != "legal-representative-of" {
		t.Fatalf("wang: got %+v, want denied via acme", dec)
	}
	if u := dec.Reasons[0].Until; u == nil || !u.Equal(day(0).AddDate(2, 0, 0)) {
		t.Errorf("until: got %v, want %v", u, day(0).AddDate(2, 0, 0))
	}
	if got := f.lists("wang"); !slices.Equal(got, []string{"defaulters via acme"}) {
		t.Errorf("wang's lists: got %v", got)
	}
	// wang's own state changes by time only as acme's listing does: its
	// publication after the grace period leaves him be; its term ends it.
	if next := f.standing("wang").Next; !next.Equal(day(0).AddDate(2, 0, 0)) {
		t.Errorf("wang's next change: got %v, want the end of acme's term %v", next, day(0).AddDate(2, 0, 0))
	}
	var wangListed bool
	for _, e := range f.events {
		wangListed = wangListed || (e.Subject == "wang" && e.Kind == socred.EventListed && e.Listing.Via != nil)
	}
	if !wangListed {
		t.Error("no listed event for wang via acme")
	}

	// Published after the 10-day grace period.
	evs := f.advance(day(11))
	if i := slices.IndexFunc(evs, func(e socred.Event) bool { return e.Kind == socred.EventPublished }); i < 0 || !evs[i].At.Equal(day(10)) {
		t.Errorf("events: got %+v, want published at %v", evs, day(10))
	}

	// Extended to 3 years: one term-changed event.
	ext := *d
	ext.Until = d.Since.AddDate(3, 0, 0)
	p := f.apply(engine.Change{Designations: []*socred.Designation{&ext}})
	if len(p.Events) != 2 {
		t.Errorf("extension events: got %+v, want term-changed for acme and wang", p.Events)
	}
	for _, e := range p.Events {
		if e.Kind != socred.EventTermChanged || !e.Listing.Until.Equal(ext.Until) {
			t.Errorf("extension event %+v: want term-changed until %v", e, ext.Until)
		}
	}

	// The term ends by time alone.
	evs = f.advance(day(0).AddDate(3, 0, 1))
	if got := f.lists("acme"); len(got) != 0 {
		t.Errorf("after the term: acme on %v", got)
	}
	if dec := f.decide("wang", "buy-flight"); !dec.Allowed {
		t.Errorf("after the term: got %+v, want allowed", dec)
	}
	var delisted []string
	for _, e := range evs {
		if e.Kind == socred.EventDelisted {
			delisted = append(delisted, e.Subject+" "+e.At.Format(time.DateOnly))
		}
	}
	if want := []string{"acme 2029-01-01", "wang 2029-01-01"}; !slices.Equal(delisted, want) {
		t.Errorf("delistings: got %v, want %v", delisted, want)
	}

	// Re-listed, then removed early.
	f.now = day(0).AddDate(3, 1, 0)
	d2 := f.designate("defaulters", "acme", "2y")
	ended := *d2
	at := f.now.Add(time.Hour)
	ended.EndedAt, ended.EndReason = &at, "obligation performed"
	f.now = at
	p = f.apply(engine.Change{Designations: []*socred.Designation{&ended}})
	if got := f.lists("acme"); len(got) != 0 {
		t.Errorf("after removal: acme on %v", got)
	}
	if len(p.Events) != 2 {
		t.Errorf("removal events: got %+v, want acme and wang delisted", p.Events)
	}

	// Removing the relation ends the extension.
	f.designate("defaulters", "acme", "2y")
	f.apply(engine.Change{Unrelate: []socred.Relation{{From: "wang", Type: "legal-representative-of", To: "acme"}}})
	if dec := f.decide("wang", "buy-flight"); !dec.Allowed {
		t.Errorf("after unrelating: got %+v, want allowed", dec)
	}
}

func TestPrivilegeActions(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	if dec := f.decide("a", "free-bike"); dec.Allowed {
		t.Errorf("privilege without grant: got %+v, want denied", dec)
	}
	for i := 0; i < 10; i++ {
		f.report("a", "city", "blood")
	}
	dec := f.decide("a", "free-bike")
	if !dec.Allowed || len(dec.Reasons) != 1 || dec.Reasons[0].Effect != socred.Grants || dec.Reasons[0].Measure != "aaa-bikes" {
		t.Errorf("AAA: got %+v, want granted by aaa-bikes", dec)
	}
	f.designate("defaulters", "a", "2y")
	dec = f.decide("a", "free-bike")
	if dec.Allowed || len(dec.Reasons) != 2 {
		t.Errorf("AAA and defaulter: got %+v, want denied with both reasons", dec)
	}
}

func TestScope(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	f.person("cab", "elsewhere", "taxi-driver")
	if _, err := f.w.Plan(engine.Change{Records: []*socred.Record{f.record("a", "taxi", "refused-fare", f.now)}}, f.now, f.id); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("record outside scope: got %v, want invalid", err)
	}
	st := f.standing("cab")
	if len(st.Scores) != 1 || st.Scores[0].Scheme != "taxi" || st.Scores[0].Score != 100 {
		t.Errorf("taxi driver outside the city: got scores %+v, want only taxi 100", st.Scores)
	}
	for i := 0; i < 3; i++ {
		f.report("cab", "taxi", "refused-fare")
	}
	if got := f.lists("cab"); !slices.Equal(got, []string{"taxi-black"}) {
		t.Errorf("cab: got %v, want [taxi-black]", got)
	}
	// Joint liability does not reach a guarantor outside the scheme's scope.
	f.person("li", "rongcheng")
	f.relate("cab", "guarantor-of", "li")
	if p := f.report("li", "city", "loan-default"); len(p.Derived) != 0 {
		t.Errorf("derived for a guarantor outside the scope: %+v", p.Derived)
	}
	// Changing attributes changes the scope.
	f.apply(engine.Change{Subjects: []*socred.Subject{{ID: "cab", Kind: socred.Person, Name: "cab", Region: "rongcheng"}}})
	if st := f.standing("cab"); len(st.Scores) != 1 || st.Scores[0].Scheme != "city" || len(st.Listings) != 0 {
		t.Errorf("after moving: got %+v, want only city and no listings", st)
	}
}

func TestOverturnedRecordsStopCounting(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("li", "rongcheng")
	f.person("zhang", "rongcheng")
	f.relate("zhang", "guarantor-of", "li")
	p := f.report("li", "city", "loan-default")
	rec := f.records[len(f.records)-2]
	f.apply(engine.Change{Overturn: []engine.RecordRef{{Subject: "li", ID: rec.ID}, {Subject: "zhang", ID: p.Derived[0].ID}}})
	for _, s := range []string{"li", "zhang"} {
		if sc, _ := f.score(s, "city"); sc != 1000 {
			t.Errorf("%s after overturn: got %d, want 1000", s, sc)
		}
		if got := f.lists(s); len(got) != 0 {
			t.Errorf("%s after overturn: on %v", s, got)
		}
	}
}

func TestUnknownSubjectsAndActions(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	if _, err := f.w.Decide("nobody", "ride-train", f.now); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("unknown subject: got %v, want not_found", err)
	}
	if _, err := f.w.Decide("a", "teleport", f.now); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("unknown action: got %v, want not_found", err)
	}
	if _, err := f.w.Plan(engine.Change{Relate: []socred.Relation{{From: "a", Type: "friend-of", To: "a"}}}, f.now, f.id); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("unknown relation type: got %v, want invalid", err)
	}
	if _, err := f.w.Plan(engine.Change{Records: []*socred.Record{f.record("ghost", "city", "blood", f.now)}}, f.now, f.id); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("record for unknown subject: got %v, want not_found", err)
	}
}

func TestStalePlanRefused(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	p1, _ := f.w.Plan(engine.Change{Records: []*socred.Record{f.record("a", "city", "blood", f.now)}}, f.now, f.id)
	p2, _ := f.w.Plan(engine.Change{Records: []*socred.Record{f.record("a", "city", "blood", f.now)}}, f.now, f.id)
	if err := f.w.Apply(p1); err != nil {
		t.Fatal(err)
	}
	if err := f.w.Apply(p2); err != engine.ErrStale {
		t.Errorf("second plan: got %v, want ErrStale", err)
	}
}

func TestAllowedDecisionDoesNotAllocate(t *testing.T) {
	f := newFixture(t, testPack())
	f.person("a", "rongcheng")
	f.report("a", "city", "loan-default")
	allocs := testing.AllocsPerRun(100, func() {
		if d, _ := f.w.Decide("a", "buy-flight", f.now); !d.Allowed {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Errorf("allowed decision: %v allocations, want 0", allocs)
	}
}

// PlanDue with a limit takes the earliest subjects due, and those due at
// the same moment as the last of them, and says the moment it settled to:
// a store that keeps that moment knows exactly what was applied.
func TestPlanDueTakesTheEarliest(t *testing.T) {
	const sec = time.Second
	offsets := []time.Duration{5 * sec, 0, 2 * sec, 1 * sec, 2 * sec, 2 * sec, 3 * sec, 4 * sec / 3}
	world := func() *fixture {
		f := newFixture(t, testPack())
		for i, off := range offsets {
			id := "s" + strconv.Itoa(i)
			f.person(id, "rongcheng")
			f.apply(engine.Change{Records: []*socred.Record{f.record(id, "city", "red-light", f.now.Add(-10*sec+off))}})
		}
		return f
	}
	f := world()
	stops, _ := f.w.Entry("s1").Next() // the count window slides past s1's
	end := stops.Add(time.Hour)
	var got [][]string
	var throughs []time.Time
	for len(got) < 10 {
		p, through, err := f.w.PlanDue(end, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Subjects) == 0 {
			break
		}
		if err := f.w.Apply(p); err != nil {
			t.Fatal(err)
		}
		got = append(got, slices.Sorted(slices.Values(p.Subjects)))
		throughs = append(throughs, through)
	}
	// Due at 0 1 1.33… 2 2 2 | 3 5: the third earliest is at 1.33…, so
	// the first pass takes three, through that moment rounded up to a
	// microsecond; the second, three more up to 2 s and the ties there.
	want := [][]string{{"s1", "s3", "s7"}, {"s2", "s4", "s5"}, {"s0", "s6"}}
	wantThrough := []time.Time{stops.Add(1333334 * time.Microsecond), stops.Add(2 * sec), end}
	if !reflect.DeepEqual(got, want) || !slices.EqualFunc(throughs, wantThrough, time.Time.Equal) {
		t.Errorf("passes: got %v through %v, want %v through %v", got, throughs, want, wantThrough)
	}
	// Ties: the fourth earliest is at 2 s, as are the fifth and sixth.
	g := world()
	p, through, err := g.w.PlanDue(end, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Subjects) != 6 || !through.Equal(stops.Add(2*sec)) {
		t.Errorf("the four earliest: got %v through %v, want six through %v", p.Subjects, through, stops.Add(2*sec))
	}
}
