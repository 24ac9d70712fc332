package socred

import (
	"fmt"
	"strconv"
	"time"
)

// DurationUnit is the unit of a calendar Duration.
type DurationUnit uint8

// Duration units, as written in scheme packs.
const (
	Hours DurationUnit = iota + 1
	Days
	Weeks
	Months // calendar months
	Years  // calendar years
)

var unitNames = map[DurationUnit]string{Hours: "h", Days: "d", Weeks: "w", Months: "mo", Years: "y"}

// Duration is an integer count of a calendar unit: 12h, 180d, 6mo, 2y.
// Months and years are calendar units, so adding them depends on the date.
type Duration struct {
	N    int
	Unit DurationUnit
}

// ParseDuration parses "12h", "180d", "2w", "6mo" or "2y".
func ParseDuration(s string) (Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return Duration{}, fmt.Errorf("duration %q: want an integer and a unit (h, d, w, mo, y), e.g. 180d", s)
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil || n > 1_000_000 {
		return Duration{}, fmt.Errorf("duration %q: number out of range", s)
	}
	var u DurationUnit
	switch s[i:] {
	case "h":
		u = Hours
	case "d":
		u = Days
	case "w":
		u = Weeks
	case "mo":
		u = Months
	case "y":
		u = Years
	default:
		return Duration{}, fmt.Errorf("duration %q: unknown unit %q (want h, d, w, mo or y)", s, s[i:])
	}
	if n > maxUnits[u] {
		return Duration{}, fmt.Errorf("duration %q: at most 1000 years (%d%s)", s, maxUnits[u], s[i:])
	}
	return Duration{N: n, Unit: u}, nil
}

// maxUnits bounds a duration to 1000 years in each unit (hours to the
// parser's million, about 114 years): a time that far on still formats as
// RFC 3339, whose years end at 9999.
var maxUnits = map[DurationUnit]int{Hours: 1_000_000, Days: 365_250, Weeks: 52_178, Months: 12_000, Years: 1_000}

// MustParseDuration is ParseDuration for constants in code and tests.
func MustParseDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero value (no duration given).
func (d Duration) IsZero() bool { return d.Unit == 0 }

// String formats d as it is written in a pack.
func (d Duration) String() string {
	if d.IsZero() {
		return ""
	}
	return strconv.Itoa(d.N) + unitNames[d.Unit]
}

// Words writes d out for a reader: "2 years", "1 month", "90 days".
func (d Duration) Words() string {
	if d.IsZero() {
		return ""
	}
	name := unitWords[d.Unit]
	if d.N != 1 {
		name += "s"
	}
	return strconv.Itoa(d.N) + " " + name
}

var unitWords = map[DurationUnit]string{Hours: "hour", Days: "day", Weeks: "week", Months: "month", Years: "year"}

// AddTo returns t moved forward by d.
func (d Duration) AddTo(t time.Time) time.Time { return d.add(t, d.N) }

// SubFrom returns t moved back by d.
func (d Duration) SubFrom(t time.Time) time.Time { return d.add(t, -d.N) }

func (d Duration) add(t time.Time, n int) time.Time {
	switch d.Unit {
	case Hours:
		return t.Add(time.Duration(n) * time.Hour)
	case Days:
		return t.AddDate(0, 0, n)
	case Weeks:
		return t.AddDate(0, 0, 7*n)
	case Months:
		return addMonths(t, n)
	case Years:
		return addMonths(t, 12*n)
	}
	return t
}

// addMonths moves t by n calendar months, keeping the day of the month,
// or taking the month's last day where it has no such day, as terms and
// deadlines are counted in law: a month from 31 January ends on the last
// day of February, a year from 29 February on 28 February. (time.AddDate
// would run over into March.)
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	last := first.AddDate(0, 1, -1).Day()
	hh, mm, ss := t.Clock()
	return time.Date(first.Year(), first.Month(), min(d, last), hh, mm, ss, t.Nanosecond(), t.Location())
}

// Approx returns d as a time.Duration using 30-day months and 365-day years,
// for comparisons where calendar precision does not matter (lint checks).
func (d Duration) Approx() time.Duration {
	day := 24 * time.Hour
	switch d.Unit {
	case Hours:
		return time.Duration(d.N) * time.Hour
	case Days:
		return time.Duration(d.N) * day
	case Weeks:
		return time.Duration(d.N) * 7 * day
	case Months:
		return time.Duration(d.N) * 30 * day
	case Years:
		return time.Duration(d.N) * 365 * day
	}
	return 0
}

// Compare compares d and e by their length from a fixed reference date, so
// that 12mo equals 1y and 7d equals 1w. It returns -1, 0 or +1.
func (d Duration) Compare(e Duration) int {
	ref := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	return d.AddTo(ref).Compare(e.AddTo(ref))
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
