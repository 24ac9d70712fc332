package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/socred/socred"
	sqlite3 "zombiezen.com/go/sqlite"
)

// The operators' console's reads: the queues of appeals and repair
// applications to decide, the newest records, and a list's daily flow.

// OpenAppeals returns the appeals not yet decided, oldest filed first.
func (s *Store) OpenAppeals(ctx context.Context, page socred.Page) ([]*socred.Appeal, error) {
	lim, off := limit(page)
	out := []*socred.Appeal{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(appealSelect + ` WHERE status = 'open' ORDER BY filed_at, id LIMIT ? OFFSET ?`)
		stmt.BindInt64(1, int64(lim))
		stmt.BindInt64(2, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error { out = append(out, scanAppeal(stmt)); return nil })
	})
	if err != nil {
		return nil, fmt.Errorf("open appeals: %w", err)
	}
	return out, nil
}

// PendingRepairs returns the repair applications not yet decided, oldest
// filed first.
func (s *Store) PendingRepairs(ctx context.Context, page socred.Page) ([]*socred.Repair, error) {
	lim, off := limit(page)
	out := []*socred.Repair{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(repairSelect + ` WHERE status = 'pending' ORDER BY filed_at, id LIMIT ? OFFSET ?`)
		stmt.BindInt64(1, int64(lim))
		stmt.BindInt64(2, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			r, err := scanRepair(stmt)
			out = append(out, r)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pending repairs: %w", err)
	}
	return out, nil
}

// RecentRecords returns the newest records, own and derived, newest first:
// a walk back along the records' integer primary key.
func (s *Store) RecentRecords(ctx context.Context, page socred.Page) ([]*socred.Record, error) {
	lim, off := limit(page)
	out := []*socred.Record{}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(recordSelect + ` ORDER BY id DESC LIMIT ? OFFSET ?`)
		stmt.BindInt64(1, int64(lim))
		stmt.BindInt64(2, int64(off))
		return each(stmt, func(stmt *sqlite3.Stmt) error { out = append(out, scanRecord(stmt)); return nil })
	})
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
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT since, ended_at FROM listings
			WHERE list = ?1 AND (since BETWEEN ?2 AND ?3 OR ended_at BETWEEN ?2 AND ?3)`)
		stmt.BindText(1, list)
		stmt.BindInt64(2, micros(from))
		stmt.BindInt64(3, micros(to)-1)
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			f.Add(fromMicros(stmt.ColumnInt64(0)), columnNullMicros(stmt, 1))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing flow: %w", err)
	}
	return f.Days(), nil
}
