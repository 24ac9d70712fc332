package socred

import (
	"testing"
	"time"
)

// Calendar terms end on the same day of the month, or on the month's last
// day where it has none: over month ends, leap days and clock changes.
func TestDurationCalendar(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		d          string
		from, want time.Time
		back       bool // SubFrom rather than AddTo
	}{
		{"1mo", utc("2027-01-31T10:00:00Z"), utc("2027-02-28T10:00:00Z"), false},
		{"1mo", utc("2028-01-31T10:00:00Z"), utc("2028-02-29T10:00:00Z"), false}, // leap year
		{"3mo", utc("2027-11-30T23:59:59Z"), utc("2028-02-29T23:59:59Z"), false},
		{"1mo", utc("2027-02-28T10:00:00Z"), utc("2027-03-28T10:00:00Z"), false},
		{"1y", utc("2028-02-29T08:00:00Z"), utc("2029-02-28T08:00:00Z"), false},
		{"4y", utc("2028-02-29T08:00:00Z"), utc("2032-02-29T08:00:00Z"), false},
		{"2y", utc("2026-12-31T00:00:00Z"), utc("2028-12-31T00:00:00Z"), false},
		{"1mo", utc("2027-03-31T10:00:00Z"), utc("2027-02-28T10:00:00Z"), true},
		{"1y", utc("2029-02-28T10:00:00Z"), utc("2028-02-28T10:00:00Z"), true},
		{"30d", utc("2027-01-31T10:00:00Z"), utc("2027-03-02T10:00:00Z"), false},
		// In UTC, where socred keeps time, a day is 24 hours across a
		// change of the clocks elsewhere (New York, 14 March 2027).
		{"1d", utc("2027-03-13T12:00:00Z"), utc("2027-03-14T12:00:00Z"), false},
		{"24h", utc("2027-03-13T12:00:00Z"), utc("2027-03-14T12:00:00Z"), false},
		// In a zone with a clock change, a calendar day keeps the wall
		// clock (23 hours here) and hours are hours.
		{"1d", time.Date(2027, 3, 13, 12, 0, 0, 0, ny), time.Date(2027, 3, 14, 12, 0, 0, 0, ny), false},
		{"24h", time.Date(2027, 3, 13, 12, 0, 0, 0, ny), time.Date(2027, 3, 14, 13, 0, 0, 0, ny), false},
		{"1mo", time.Date(2027, 1, 31, 9, 30, 0, 0, ny), time.Date(2027, 2, 28, 9, 30, 0, 0, ny), false},
	} {
		d, err := ParseDuration(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		got := d.AddTo(tc.from)
		if tc.back {
			got = d.SubFrom(tc.from)
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s %s (back %v): got %s, want %s", tc.from, tc.d, tc.back, got, tc.want)
		}
	}
}

// A duration is at most 1000 years in any unit, so that a time that far
// from now still has a year JSON and RFC 3339 can write.
func TestDurationWords(t *testing.T) {
	for in, want := range map[string]string{"2y": "2 years", "1y": "1 year", "18mo": "18 months", "1w": "1 week", "90d": "90 days", "1h": "1 hour", "0d": "0 days"} {
		if got := MustParseDuration(in).Words(); got != want {
			t.Errorf("%s in words: %q, want %q", in, got, want)
		}
	}
	if got := (Duration{}).Words(); got != "" {
		t.Errorf("no duration in words: %q, want none", got)
	}
}

func TestDurationBounds(t *testing.T) {
	for _, ok := range []string{"1000y", "12000mo", "52178w", "365250d", "1000000h"} {
		d, err := ParseDuration(ok)
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if y := d.AddTo(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)).Year(); y > 3026 {
			t.Errorf("%s from 2026 ends in %d, past 1000 years", ok, y)
		}
	}
	for _, bad := range []string{"1001y", "12001mo", "52179w", "365251d", "1000001h", "1000000y", "1000000w"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("%s: accepted as %v, want refused", bad, d)
		}
	}
}
