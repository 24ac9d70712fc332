package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/socred/socred"
)

// Expired checks are left out of the subject index: by reads at once, and
// for good by the merge of the tail and the compaction of the runs; and the
// ids given after a restart go on past them though the table was left
// empty.
func TestExpiredChecksLeaveTheIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	s := openUnmergedAt(t, path)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	addChecks := func(k int) {
		t.Helper()
		var cs []socred.CheckEntry
		for range k {
			cs = append(cs, socred.CheckEntry{Subject: "s" + strconv.Itoa(n%3), At: t0.Add(time.Duration(n) * time.Minute),
				By: "airline", TokenID: "tok", Action: "fly", Purpose: "ticket " + strconv.Itoa(n)})
			n++
		}
		if err := s.Commit(ctx, &socred.Write{Now: t0, Checks: cs}); err != nil {
			t.Fatal(err)
		}
	}
	// The checks go to the check log first, and into the database and the
	// index when it drains.
	drain := func() {
		t.Helper()
		if err := s.drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	merge := func() {
		t.Helper()
		drain()
		if _, err := s.checks.merge(ctx, s, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Two runs of ten (ids 1 to 20), and ten in the tail: check k was
	// made k-1 minutes after t0.
	for range runFanIn - 2 {
		addChecks(10)
		merge()
	}
	addChecks(10)
	drain()
	e, err := s.ExpiredLogs(ctx, t0.Add(25*time.Minute), 100)
	if err != nil || e.Checks != 25 {
		t.Fatalf("expired: %+v, %v; want the checks up to 25", e, err)
	}
	if err := s.Commit(ctx, &socred.Write{Now: t0, Expire: e}); err != nil {
		t.Fatal(err)
	}
	kept := func(from, to int64) {
		t.Helper()
		var got []int64
		for sub := range 3 {
			got = append(got, indexIDs(t, s, s.checks, "s"+strconv.Itoa(sub))...)
		}
		slices.Sort(got)
		if len(got) != int(to-from+1) || got[0] != from || got[len(got)-1] != to {
			t.Errorf("ids read: %v, want %d to %d", got, from, to)
		}
	}
	kept(26, 30) // the runs' and the tail's expired left out
	rows := func(want int) {
		t.Helper()
		if got := indexRows(t, s.xw, "checks", ""); got != want {
			t.Errorf("%d rows in the index's runs, want %d", got, want)
		}
	}
	rows(20)
	merge() // the tail: its expired not written
	rows(25)
	addChecks(10)
	merge() // the last run of a level: the runs are compacted into one
	if len(s.checks.runs) != 1 {
		t.Fatalf("runs %v, want one", s.checks.runs)
	}
	rows(15) // the expired dropped
	kept(26, 40)

	all, err := s.ExpiredLogs(ctx, t0.Add(24*time.Hour), 1000)
	if err != nil || all.Checks != int64(n) {
		t.Fatalf("every check expired: %+v, %v; want up to %d", all, err, n)
	}
	if err := s.Commit(ctx, &socred.Write{Now: t0, Expire: all}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addChecks(1)
	cs, err := s.Checks(ctx, "s"+strconv.Itoa((n-1)%3), socred.Page{})
	if err != nil || len(cs) != 1 || cs[0].ID != all.Checks+1 {
		t.Errorf("a check after a restart with every one expired: %+v, %v; want one, numbered %d", cs, err, all.Checks+1)
	}
}
