package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/socred/socred"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Load streams the state the engine needs, in the order socred.Loader
// documents, from one read transaction (a consistent snapshot).
func (s *Store) Load(ctx context.Context, l socred.Loader) error {
	return s.read(ctx, func(conn *sqlite3.Conn) error { return load(conn, l) })
}

func load(conn *sqlite3.Conn, l socred.Loader) error {
	settled, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'settled'`))
	if err != nil {
		return fmt.Errorf("load settled: %w", err)
	}
	err = each(conn.Prep(`SELECT id, kind, name, region, groups FROM subjects`), func(stmt *sqlite3.Stmt) error {
		sub, err := scanSubject(stmt)
		if err != nil {
			return err
		}
		return l.Subject(sub)
	})
	if err != nil {
		return fmt.Errorf("load subjects: %w", err)
	}

	err = each(conn.Prep(`SELECT from_id, type, to_id FROM relations`), func(stmt *sqlite3.Stmt) error {
		return l.Relation(socred.Relation{From: stmt.ColumnText(0), Type: stmt.ColumnText(1), To: stmt.ColumnText(2)})
	})
	if err != nil {
		return fmt.Errorf("load relations: %w", err)
	}

	stmt := conn.Prep(`SELECT id, subject, scheme, rule, points, occurred_at, counts_until, overturned_at IS NOT NULL
		FROM records WHERE counts_until > ?`)
	stmt.BindInt64(1, settled)
	var r socred.CountingRecord
	err = each(stmt, func(stmt *sqlite3.Stmt) error {
		r = socred.CountingRecord{
			ID: stmt.ColumnInt64(0), Subject: stmt.ColumnText(1), Scheme: stmt.ColumnText(2), Rule: stmt.ColumnText(3),
			Points: stmt.ColumnInt64(4), OccurredAt: stmt.ColumnInt64(5) * 1000, CountsUntil: stmt.ColumnInt64(6) * 1000,
			Overturned: stmt.ColumnBool(7),
		}
		return l.Record(&r)
	})
	if err != nil {
		return fmt.Errorf("load records: %w", err)
	}

	stmt = conn.Prep(designationSelect + ` WHERE ended_at IS NULL AND until > ?`)
	stmt.BindInt64(1, settled)
	err = each(stmt, func(stmt *sqlite3.Stmt) error { return l.Designation(scanDesignation(stmt)) })
	if err != nil {
		return fmt.Errorf("load designations: %w", err)
	}

	err = each(conn.Prep(`SELECT subject, list, since FROM listings WHERE ended_at IS NULL AND designation = ''`), func(stmt *sqlite3.Stmt) error {
		return l.Listing(stmt.ColumnText(0), stmt.ColumnText(1), fromMicros(stmt.ColumnInt64(2)))
	})
	if err != nil {
		return fmt.Errorf("load listings: %w", err)
	}
	var t time.Time
	if settled > 0 {
		t = fromMicros(settled)
	}
	return l.Settled(t)
}
