package api_test

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/socred/socred"
)

// OpenAppeals returns copies of the open appeals, oldest filed first.
func (s *fakeStore) OpenAppeals(ctx context.Context, page socred.Page) ([]*socred.Appeal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = page
	out := []*socred.Appeal{}
	for _, a := range s.appeals {
		if a.Status == socred.AppealOpen {
			c := *a
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *socred.Appeal) int { return cmp.Or(a.FiledAt.Compare(b.FiledAt), cmp.Compare(a.ID, b.ID)) })
	return paged(out, page), nil
}

// PendingRepairs returns copies of the pending repair applications, oldest
// filed first.
func (s *fakeStore) PendingRepairs(ctx context.Context, page socred.Page) ([]*socred.Repair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = page
	out := []*socred.Repair{}
	for _, r := range s.repairs {
		if r.Status == socred.RepairPending {
			c := *r
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *socred.Repair) int { return cmp.Or(a.FiledAt.Compare(b.FiledAt), cmp.Compare(a.ID, b.ID)) })
	return paged(out, page), nil
}

// RecentRecords returns copies of the records, newest (highest id) first.
func (s *fakeStore) RecentRecords(ctx context.Context, page socred.Page) ([]*socred.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = page
	out := make([]*socred.Record, 0, len(s.records))
	for _, r := range s.records {
		c := *r
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *socred.Record) int {
		x, _ := strconv.ParseInt(a.ID, 10, 64)
		y, _ := strconv.ParseInt(b.ID, 10, 64)
		return cmp.Compare(y, x)
	})
	return paged(out, page), nil
}

// ListingFlow counts the current listings on the list by the UTC day they
// began, from the day of since to the day of until; the fake keeps no
// ended listings, so none ever left.
func (s *fakeStore) ListingFlow(ctx context.Context, list string, since, until time.Time) ([]socred.ListingDay, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	day := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	from, to := day(since), day(until).AddDate(0, 0, 1)
	counts := map[time.Time]int{}
	for _, l := range s.listings[list] {
		if !l.Since.Before(from) && l.Since.Before(to) {
			counts[day(l.Since)]++
		}
	}
	out := []socred.ListingDay{}
	for d, n := range counts {
		out = append(out, socred.ListingDay{Day: d, Entered: n})
	}
	slices.SortFunc(out, func(a, b socred.ListingDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}
