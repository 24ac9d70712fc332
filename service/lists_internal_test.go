package service

import (
	"testing"
	"time"

	"github.com/socred/socred"
)

// A term is held to max_term from the entry's own start: 1y runs past a
// max_term of 365d from a start before a 29 February, and fits elsewhere.
func TestWithinMaxTermByTheCalendar(t *testing.T) {
	lst := &socred.List{ID: "l", MaxTerm: socred.Duration{N: 365, Unit: socred.Days}}
	year := socred.Duration{N: 1, Unit: socred.Years}
	for _, tc := range []struct {
		since time.Time
		ok    bool
	}{
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), false}, // to 1 June 2028, across 29 February: 366 days
		{time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		err := withinMaxTerm(lst, year, tc.since)
		if (err == nil) != tc.ok || err != nil && socred.ErrorField(err) != "term" {
			t.Errorf("1y from %s: got %v, want ok %v", tc.since.Format("2006-01-02"), err, tc.ok)
		}
	}
	if err := withinMaxTerm(&socred.List{ID: "open"}, year, time.Now()); err != nil {
		t.Errorf("no max_term: %v", err)
	}
}

// A term is parsed without a fixed date to measure it against max_term:
// 366d fits a max_term of 1y from a start whose year has 366 days.
func TestDesignationTermAgainstItsStart(t *testing.T) {
	lst := &socred.List{ID: "l", MaxTerm: socred.Duration{N: 1, Unit: socred.Years}}
	term, err := designationTerm(lst, "366d")
	if err != nil {
		t.Fatalf("366d against a max_term of 1y: %v", err)
	}
	if err := withinMaxTerm(lst, term, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("366d from 1 June 2027 (1y is 366 days there): %v", err)
	}
	if err := withinMaxTerm(lst, term, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)); socred.ErrorField(err) != "term" {
		t.Errorf("366d from 1 June 2026 (1y is 365 days there): got %v, want an error of term", err)
	}
}
