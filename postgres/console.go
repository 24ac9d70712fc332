package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
)

// The operators' console's reads: the queues of appeals and repair
// applications to decide, the newest records, and a list's daily flow.

// OpenAppeals returns the appeals not yet decided, oldest filed first.
func (s *Store) OpenAppeals(ctx context.Context, page socred.Page) ([]*socred.Appeal, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, appealSelect+` WHERE status = 'open' ORDER BY filed_at, id LIMIT $1 OFFSET $2`, lim, off)
	out, err := pgx.AppendRows(make([]*socred.Appeal, 0), rows, scanAppeal)
	if err != nil {
		return nil, fmt.Errorf("open appeals: %w", err)
	}
	return out, nil
}

// PendingRepairs returns the repair applications not yet decided, oldest
// filed first.
func (s *Store) PendingRepairs(ctx context.Context, page socred.Page) ([]*socred.Repair, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, repairSelect+` WHERE status = 'pending' ORDER BY filed_at, id LIMIT $1 OFFSET $2`, lim, off)
	out, err := pgx.AppendRows(make([]*socred.Repair, 0), rows, scanRepair)
	if err != nil {
		return nil, fmt.Errorf("pending repairs: %w", err)
	}
	return out, nil
}

// RecentRecords returns the newest records, own and derived, newest first:
// the index on records (id) of each partition read backwards and merged.
func (s *Store) RecentRecords(ctx context.Context, page socred.Page) ([]*socred.Record, error) {
	lim, off := limit(page)
	rows, _ := s.pool.Query(ctx, recordSelect+` ORDER BY r.id DESC LIMIT $1 OFFSET $2`, lim, off)
	out, err := pgx.AppendRows(make([]*socred.Record, 0), rows, scanRecord)
	if err != nil {
		return nil, fmt.Errorf("recent records: %w", err)
	}
	return out, nil
}

// ListingFlow counts, for each UTC day from the day of since to the day of
// until, the own entries on the list that began and that ended that day.
func (s *Store) ListingFlow(ctx context.Context, list string, since, until time.Time) ([]socred.ListingDay, error) {
	f := socred.NewListingDays(since, until)
	from, to := f.From, f.To
	if !from.Before(to) {
		return []socred.ListingDay{}, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT since, ended_at FROM listings
		WHERE list = $1 AND (since BETWEEN $2 AND $3 OR ended_at BETWEEN $2 AND $3)`, list, micros(from), micros(to)-1)
	var (
		began int64
		ended *int64
	)
	_, err := pgx.ForEachRow(rows, []any{&began, &ended}, func() error {
		f.Add(fromMicros(began), timeOrNil(ended))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing flow: %w", err)
	}
	return f.Days(), nil
}
