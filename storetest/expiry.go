package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/socred/socred"
)

// testExpiry deletes the oldest checks and accesses, as the service does
// at the end of their retention: ExpiredLogs names the oldest run made
// before a moment, Write.Expire deletes it, and reads, pages and the ids
// given next go on as if those rows had never been.
func testExpiry(t *testing.T, s socred.Store) {
	if e, err := s.ExpiredLogs(ctx, t0.Add(time.Hour), 10); err != nil || e != (socred.Expiry{}) {
		t.Fatalf("an empty store: got %+v, %v; want nothing expired", e, err)
	}
	// In the order stored; the fourth is later than the fifth, so that the
	// run of the oldest ends at it.
	made := []struct {
		subject string
		at      time.Duration
	}{{"zhang", 0}, {"li", time.Minute}, {"zhang", 2 * time.Minute}, {"zhang", 10 * time.Minute}, {"li", 3 * time.Minute}, {"zhang", 20 * time.Minute}}
	for i, m := range made {
		commit(t, s, &socred.Write{Checks: []socred.CheckEntry{{Subject: m.subject, At: t0.Add(m.at), By: "railway booking",
			TokenID: "tok-1", Action: "ride-high-speed-train", Purpose: "ticket " + string(rune('a'+i))}}})
	}
	commit(t, s, &socred.Write{Accesses: []socred.Access{
		{Subject: "zhang", At: t0, By: "court clerk", Role: socred.RoleAuthority, TokenID: "tok-2", Purpose: "case 7"},
		{Subject: "zhang", At: t0.Add(time.Hour), By: "reviewer 1", Role: socred.RoleReviewer, TokenID: "tok-3", Purpose: "appeal"},
	}})
	ids := map[string]int64{} // purpose → id
	for _, sub := range []string{"zhang", "li"} {
		cs, err := s.Checks(ctx, sub, socred.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			ids[c.Purpose] = c.ID
		}
	}
	as, err := s.Accesses(ctx, "zhang", socred.Page{})
	if err != nil || len(as) != 2 {
		t.Fatalf("accesses: got %+v, %v", as, err)
	}
	before := t0.Add(5 * time.Minute)
	e, err := s.ExpiredLogs(ctx, before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := (socred.Expiry{Checks: ids["ticket c"], Accesses: as[1].ID}); e != want {
		t.Fatalf("expired before %s: got %+v, want %+v (the checks up to the third, the first access)", before, e, want)
	}
	if e2, _ := s.ExpiredLogs(ctx, before, 2); e2.Checks != ids["ticket b"] {
		t.Errorf("expired, at most 2 rows: got checks up to %d, want %d", e2.Checks, ids["ticket b"])
	}
	commit(t, s, &socred.Write{Expire: e})

	purposes := func(sub string, p socred.Page) []string {
		t.Helper()
		cs, err := s.Checks(ctx, sub, p)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Purpose)
		}
		return out
	}
	for _, c := range []struct {
		subject string
		page    socred.Page
		want    []string
	}{
		{"zhang", socred.Page{}, []string{"ticket f", "ticket d"}},
		{"zhang", socred.Page{Limit: 1, Offset: 1}, []string{"ticket d"}},
		{"zhang", socred.Page{Limit: 5, Offset: 2}, []string{}},
		{"li", socred.Page{}, []string{"ticket e"}},
	} {
		if got := purposes(c.subject, c.page); !slices.Equal(got, c.want) {
			t.Errorf("checks of %s, %+v, after the expiry: got %q, want %q", c.subject, c.page, got, c.want)
		}
	}
	if as, err := s.Accesses(ctx, "zhang", socred.Page{}); err != nil || len(as) != 1 || as[0].Purpose != "appeal" {
		t.Errorf("accesses after the expiry: got %+v, %v; want the reviewer's alone", as, err)
	}
	// The oldest left is not old enough: nothing more.
	if e, err := s.ExpiredLogs(ctx, before, 10); err != nil || e != (socred.Expiry{}) {
		t.Errorf("expired again: got %+v, %v; want nothing", e, err)
	}
	// Everything, then a check made after: its id follows the deleted.
	all, err := s.ExpiredLogs(ctx, t0.Add(24*time.Hour), 10)
	if err != nil || all.Checks != ids["ticket f"] || all.Accesses == 0 {
		t.Fatalf("every row expired: got %+v, %v; want checks up to %d", all, err, ids["ticket f"])
	}
	commit(t, s, &socred.Write{Expire: all})
	commit(t, s, &socred.Write{Checks: []socred.CheckEntry{{Subject: "zhang", At: t0.Add(25 * time.Hour), By: "airline",
		TokenID: "tok-1", Action: "buy-flight-ticket", Purpose: "ticket g"}}})
	cs, err := s.Checks(ctx, "zhang", socred.Page{})
	if err != nil || len(cs) != 1 || cs[0].Purpose != "ticket g" || cs[0].ID <= all.Checks {
		t.Errorf("a check after every one expired: got %+v, %v; want one, numbered after %d", cs, err, all.Checks)
	}
}
