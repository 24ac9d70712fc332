package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/socred/socred"
)

// testConsole: the operators' console's reads. The queues hold what is not
// yet decided, oldest filed first and by id on a tie; recent records are
// every record, own and derived, by id newest first; a list's flow counts
// its own entries begun and ended per UTC day, from the day of since to
// the day of until, leaving out days with neither.
func testConsole(t *testing.T, s socred.Store) {
	t.Run("OpenAppeals", func(t *testing.T) { testOpenAppeals(t, s) })
	t.Run("PendingRepairs", func(t *testing.T) { testPendingRepairs(t, s) })
	t.Run("RecentRecords", func(t *testing.T) { testRecentRecords(t, s) })
	t.Run("ListingFlow", func(t *testing.T) { testListingFlow(t, s) })
}

func testOpenAppeals(t *testing.T, s socred.Store) {
	if got, err := s.OpenAppeals(ctx, socred.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("no appeals: got %+v, %v", got, err)
	}
	appeal := func(id string, filed time.Time) *socred.Appeal {
		return &socred.Appeal{ID: id, Subject: "li", Record: "1", Statement: "statement " + id, FiledAt: filed,
			ReviewDue: filed.AddDate(0, 0, 30), Status: socred.AppealOpen}
	}
	upheld := appeal("apl-b", t0)
	at := t0.Add(time.Hour)
	upheld.Status, upheld.DecidedAt, upheld.DecidedBy, upheld.Reasons = socred.AppealUpheld, &at, "board", "no receipt"
	suspended := appeal("apl-f", t0.Add(3*time.Hour))
	late := t0.AddDate(0, 0, 31)
	suspended.SuspendedAt = &late
	commit(t, s, &socred.Write{Appeals: []*socred.Appeal{
		appeal("apl-c", t0.Add(2*time.Hour)), appeal("apl-a", t0), upheld, appeal("apl-d", t0.Add(2*time.Hour)),
		appeal("apl-e", t0.Add(time.Hour)), suspended,
	}})
	// apl-e is decided later: it leaves the queue.
	overturned := appeal("apl-e", t0.Add(time.Hour))
	overturned.Status, overturned.DecidedAt, overturned.DecidedBy = socred.AppealOverturned, &late, "board"
	commit(t, s, &socred.Write{Now: late, Appeals: []*socred.Appeal{overturned}})

	ids := func(as []*socred.Appeal) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.ID
		}
		return out
	}
	got, err := s.OpenAppeals(ctx, socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"apl-a", "apl-c", "apl-d", "apl-f"}; !slices.Equal(ids(got), want) {
		t.Fatalf("open appeals: got %v, want %v", ids(got), want)
	}
	if a := got[0]; a.Subject != "li" || a.Record != "1" || a.Statement != "statement apl-a" || !a.FiledAt.Equal(t0) ||
		a.Status != socred.AppealOpen || a.DecidedAt != nil {
		t.Errorf("first open appeal: got %+v", a)
	}
	if a := got[3]; a.SuspendedAt == nil || !a.SuspendedAt.Equal(late) {
		t.Errorf("suspended open appeal: got %+v", a)
	}
	if page, err := s.OpenAppeals(ctx, socred.Page{Limit: 2, Offset: 1}); err != nil || !slices.Equal(ids(page), []string{"apl-c", "apl-d"}) {
		t.Errorf("second page of two from 1: got %v, %v", ids(page), err)
	}
	if page, err := s.OpenAppeals(ctx, socred.Page{Offset: 4}); err != nil || len(page) != 0 {
		t.Errorf("past the end: got %v, %v", ids(page), err)
	}
}

func testPendingRepairs(t *testing.T, s socred.Store) {
	if got, err := s.PendingRepairs(ctx, socred.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("no repairs: got %+v, %v", got, err)
	}
	repair := func(id string, filed time.Time, status socred.RepairStatus) *socred.Repair {
		r := &socred.Repair{ID: id, Subject: "acme", List: "defaulters", Designation: "d-1", Route: "obligation-performed",
			Evidence: []string{"receipt of " + id}, Statement: "statement " + id, FiledAt: filed, Status: status}
		if status != socred.RepairPending {
			at := filed.Add(time.Hour)
			r.DecidedAt, r.DecidedBy = &at, "board"
		}
		return r
	}
	commit(t, s, &socred.Write{Repairs: []*socred.Repair{
		repair("rep-c", t0.Add(time.Hour), socred.RepairPending), repair("rep-a", t0, socred.RepairPending),
		repair("rep-b", t0.Add(-time.Hour), socred.RepairApproved), repair("rep-d", t0.Add(time.Hour), socred.RepairRejected),
		repair("rep-e", t0, socred.RepairPending),
	}})
	ids := func(rs []*socred.Repair) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	got, err := s.PendingRepairs(ctx, socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"rep-a", "rep-e", "rep-c"}; !slices.Equal(ids(got), want) {
		t.Fatalf("pending repairs: got %v, want %v", ids(got), want)
	}
	if r := got[0]; r.Subject != "acme" || r.List != "defaulters" || r.Designation != "d-1" || r.Route != "obligation-performed" ||
		!slices.Equal(r.Evidence, []string{"receipt of rep-a"}) || r.Statement != "statement rep-a" || !r.FiledAt.Equal(t0) ||
		r.Status != socred.RepairPending || r.DecidedAt != nil {
		t.Errorf("first pending repair: got %+v", r)
	}
	if page, err := s.PendingRepairs(ctx, socred.Page{Limit: 1, Offset: 2}); err != nil || !slices.Equal(ids(page), []string{"rep-c"}) {
		t.Errorf("third: got %v, %v", ids(page), err)
	}
	// Decided, it leaves the queue.
	commit(t, s, &socred.Write{Repairs: []*socred.Repair{repair("rep-a", t0, socred.RepairApproved)}})
	if got, err := s.PendingRepairs(ctx, socred.Page{}); err != nil || !slices.Equal(ids(got), []string{"rep-e", "rep-c"}) {
		t.Errorf("after deciding rep-a: got %v, %v", ids(got), err)
	}
}

func testRecentRecords(t *testing.T, s socred.Store) {
	if got, err := s.RecentRecords(ctx, socred.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("no records: got %+v, %v", got, err)
	}
	derived := record(2, "", "zhang", t0)
	derived.DerivedFrom = &socred.Derivation{Record: "1", Subject: "li", Relation: "guarantor-of"}
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("li"), person("zhang")},
		Records: []*socred.Record{record(1, "k1", "li", t0), derived, record(3, "k3", "li", t0.Add(time.Hour))}})
	// Newest by id, not by when it happened; ids may leave gaps.
	commit(t, s, &socred.Write{Records: []*socred.Record{record(4, "k4", "zhang", t0.Add(2*time.Hour)), record(7, "k7", "li", t0.Add(-time.Hour))}})
	ids := func(rs []*socred.Record) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	got, err := s.RecentRecords(ctx, socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"7", "4", "3", "2", "1"}; !slices.Equal(ids(got), want) {
		t.Fatalf("recent records: got %v, want %v", ids(got), want)
	}
	if r := got[0]; r.Key != "k7" || r.Subject != "li" || r.Reporter != "city" || r.Points != -5 || !r.OccurredAt.Equal(t0.Add(-time.Hour)) || r.DerivedFrom != nil {
		t.Errorf("newest record: got %+v", r)
	}
	if r := got[3]; r.Subject != "zhang" || r.Key != "" || r.DerivedFrom == nil || *r.DerivedFrom != *derived.DerivedFrom {
		t.Errorf("derived record: got %+v", r)
	}
	if page, err := s.RecentRecords(ctx, socred.Page{Limit: 2}); err != nil || !slices.Equal(ids(page), []string{"7", "4"}) {
		t.Errorf("first two: got %v, %v", ids(page), err)
	}
	if page, err := s.RecentRecords(ctx, socred.Page{Limit: 2, Offset: 2}); err != nil || !slices.Equal(ids(page), []string{"3", "2"}) {
		t.Errorf("next two: got %v, %v", ids(page), err)
	}
	if page, err := s.RecentRecords(ctx, socred.Page{Offset: 5}); err != nil || len(page) != 0 {
		t.Errorf("past the end: got %v, %v", ids(page), err)
	}
}

func testListingFlow(t *testing.T, s socred.Store) {
	day := func(n int, hms ...int) time.Time {
		d := time.Date(2026, 3, 1+n, 0, 0, 0, 0, time.UTC)
		for i, u := range []time.Duration{time.Hour, time.Minute, time.Second} {
			if i < len(hms) {
				d = d.Add(time.Duration(hms[i]) * u)
			}
		}
		return d
	}
	on := func(subject string, since time.Time) socred.Event {
		return listed(socred.EventListed, subject, "black", "", since, nil, since)
	}
	off := func(subject string, since, at time.Time) socred.Event {
		return listed(socred.EventDelisted, subject, "black", "", since, nil, at)
	}
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b"), person("c"), person("d"),
		person("f"), person("g"), person("h"), person("k")}})
	// A listing reaching a subject through a relation is not the subject's
	// own, and another list's entries are not this list's.
	via := on("c", day(1, 6))
	via.Listing.Via = &socred.Via{Subject: "a", Relation: "legal-representative-of"}
	other := listed(socred.EventListed, "b", "defaulters", "d-1", day(1, 6), nil, day(1, 6))
	commit(t, s, &socred.Write{Events: []socred.Event{
		on("h", day(-1, 23, 59, 59)), // the day before since's
		on("d", day(-3)),             // begun before, ends in the range
		on("a", day(0, 9)), on("b", day(0, 23, 30)),
		on("c", day(1)), via, other,
		on("k", day(4, 1)), on("f", day(4, 8)), // after until, on its day
		on("g", day(5)), // the day after until's
	}})
	commit(t, s, &socred.Write{Events: []socred.Event{off("d", day(-3), day(1, 12)), off("a", day(0, 9), day(2, 10)), off("k", day(4, 1), day(4, 2))}})
	commit(t, s, &socred.Write{Events: []socred.Event{on("a", day(2, 11))}}) // again
	commit(t, s, &socred.Write{Events: []socred.Event{off("g", day(5), day(5, 1)), off("h", day(-1, 23, 59, 59), day(-1, 23, 59, 59))}})

	flow := func(list string, since, until time.Time) []socred.ListingDay {
		t.Helper()
		got, err := s.ListingFlow(ctx, list, since, until)
		if err != nil {
			t.Fatalf("ListingFlow(%s, %v, %v): %v", list, since, until, err)
		}
		for _, d := range got {
			if d.Day.Location() != time.UTC {
				t.Errorf("day %v: not in UTC", d.Day)
			}
		}
		return got
	}
	same := func(got, want []socred.ListingDay) bool {
		return slices.EqualFunc(got, want, func(g, w socred.ListingDay) bool {
			return g.Day.Equal(w.Day) && g.Entered == w.Entered && g.Left == w.Left
		})
	}
	// Day 3 has neither: left out.
	want := []socred.ListingDay{{Day: day(0), Entered: 2}, {Day: day(1), Entered: 1, Left: 1}, {Day: day(2), Entered: 1, Left: 1}, {Day: day(4), Entered: 2, Left: 1}}
	if got := flow("black", day(0, 15), day(4, 6)); !same(got, want) {
		t.Errorf("black, days 0 to 4: got %+v, want %+v", got, want)
	}
	// One day; and since given in another zone counts from its UTC day.
	if got, want := flow("black", day(2, 12), day(2, 12)), want[2:3]; !same(got, want) {
		t.Errorf("black, day 2: got %+v, want %+v", got, want)
	}
	shanghai := time.FixedZone("CST", 8*60*60)
	if got, want := flow("black", day(0, 23).In(shanghai), day(1, 23).In(shanghai)), want[:2]; !same(got, want) {
		t.Errorf("black, days 0 and 1 asked in UTC+8: got %+v, want %+v", got, want)
	}
	if got := flow("defaulters", day(0), day(4)); !same(got, []socred.ListingDay{{Day: day(1), Entered: 1}}) {
		t.Errorf("defaulters: got %+v", got)
	}
	if got := flow("black", day(4, 6), day(0, 15)); len(got) != 0 {
		t.Errorf("until before since: got %+v, want none", got)
	}
	if got := flow("nothing", day(0), day(4)); len(got) != 0 {
		t.Errorf("a list with no entries: got %+v, want none", got)
	}
}
