package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/socred/socred"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Load streams the state the engine needs, in the order socred.Loader
// documents. It holds the write lock throughout, so that the records, which
// several connections read in parallel, belong to the same state as the
// rest, read in one transaction.
func (s *Store) Load(ctx context.Context, l socred.Loader) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.read(ctx, func(conn *sqlite3.Conn) error { return load(ctx, conn, s.r, l) })
}

func load(ctx context.Context, conn *sqlite3.Conn, pool *readPool, l socred.Loader) error {
	settled, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'settled'`))
	if err != nil {
		return fmt.Errorf("load settled: %w", err)
	}
	seq, err := sqlitex.ResultInt64(conn.Prep(`SELECT value FROM meta WHERE key = 'feed_seq'`))
	if err != nil {
		return fmt.Errorf("load feed: %w", err)
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

	maxID, err := sqlitex.ResultInt64(conn.Prep(`SELECT coalesce(max(id), 0) FROM records`))
	if err != nil {
		return fmt.Errorf("load records: %w", err)
	}
	if err := loadRecords(ctx, pool, settled, maxID, l); err != nil {
		return fmt.Errorf("load records: %w", err)
	}

	stmt := conn.Prep(designationSelect + ` WHERE ended_at IS NULL AND until > ?`)
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
	return l.Settled(t, seq)
}

// loadSplitMin is how many records make loading them on several
// connections worth it.
var loadSplitMin int64 = 100_000

// loadRecords streams the records with ids up to maxID that count after
// settled, reading ranges of ids on several connections at once.
func loadRecords(ctx context.Context, pool *readPool, settled, maxID int64, l socred.Loader) error {
	parts := int64(min(runtime.GOMAXPROCS(0), cap(pool.slots)-1))
	if maxID < loadSplitMin {
		parts = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, parts)
	for k := range parts {
		lo, hi := maxID*k/parts, maxID*(k+1)/parts
		wg.Go(func() {
			if errs[k] = loadRange(ctx, pool, settled, lo, hi, l); errs[k] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadRange streams the records with ids in (lo, hi] that count after
// settled.
func loadRange(ctx context.Context, pool *readPool, settled, lo, hi int64, l socred.Loader) (err error) {
	conn, err := pool.take(ctx)
	if err != nil {
		return err
	}
	defer pool.put(conn)
	defer sqlitex.Transaction(conn)(&err)
	stmt := conn.Prep(`SELECT id, subject, scheme, rule, points, occurred_at, counts_until, overturned_at IS NOT NULL
				FROM records WHERE id > ? AND id <= ? AND counts_until > ?`)
	stmt.BindInt64(1, lo)
	stmt.BindInt64(2, hi)
	stmt.BindInt64(3, settled)
	var r socred.CountingRecord
	return each(stmt, func(stmt *sqlite3.Stmt) error {
		r = socred.CountingRecord{
			ID: stmt.ColumnInt64(0), Subject: stmt.ColumnText(1), Scheme: stmt.ColumnText(2), Rule: stmt.ColumnText(3),
			Points: stmt.ColumnInt64(4), OccurredAt: stmt.ColumnInt64(5) * 1000, CountsUntil: stmt.ColumnInt64(6) * 1000,
			Overturned: stmt.ColumnBool(7),
		}
		return l.Record(&r)
	})
}

// interner returns one string for each of the few distinct values of a
// column, such as scheme and rule ids, instead of a new one for every row.
type interner map[string]string

func (in interner) text(stmt *sqlite3.Stmt, col int) string {
	var buf [64]byte
	n := stmt.ColumnLen(col)
	if n > len(buf) {
		return stmt.ColumnText(col)
	}
	b := buf[:stmt.ColumnBytes(col, buf[:n])]
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}
