package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
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
	s.loading.Add(1)
	defer s.loading.Add(-1)
	return s.read(ctx, func(conn *sqlite3.Conn) (err error) {
		unmap, err := mapDatabase(conn)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, unmap()) }()
		return load(ctx, conn, s.r, l)
	})
}

// mapDatabase has conn read the database file through a memory map, up to
// the 2 GiB SQLite allows, until unmap is called. Scanning whole tables
// then takes about a third less CPU: pages are read where they are mapped,
// not copied into the page cache. A read error on a mapped page is a
// SIGBUS rather than an error, so connections map the file only while
// loading.
func mapDatabase(conn *sqlite3.Conn) (unmap func() error, err error) {
	was, err := sqlitex.ResultInt64(conn.Prep("PRAGMA mmap_size"))
	if err == nil {
		err = sqlitex.ExecuteTransient(conn, "PRAGMA mmap_size = 2147418112", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("map database: %w", err)
	}
	return func() error {
		// Even when the load was cancelled: the connection goes back to
		// the pool, and must not stay mapped.
		defer conn.SetInterrupt(conn.SetInterrupt(nil))
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA mmap_size = "+strconv.FormatInt(was, 10), nil); err != nil {
			return fmt.Errorf("unmap database: %w", err)
		}
		return nil
	}, nil
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
	if err := loadSubjects(conn, l); err != nil {
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

// loadSubjects streams the subjects to l. A goroutine reads them while l
// takes them, a batch at a time: each takes about as long as the other.
func loadSubjects(conn *sqlite3.Conn, l socred.Loader) error {
	var (
		batches = make(chan []*socred.Subject, 4)
		stop    = make(chan struct{})
		readErr error
	)
	go func() {
		defer close(batches)
		in := interner{}
		batch := make([]*socred.Subject, 0, subjectBatch)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]*socred.Subject, 0, subjectBatch)
				return nil
			case <-stop:
				return errStopped
			}
		}
		readErr = each(conn.Prep(`SELECT id, kind, name, region, groups, registered_by FROM subjects`), func(stmt *sqlite3.Stmt) error {
			sub, err := loadSubject(stmt, in)
			if err != nil {
				return err
			}
			if batch = append(batch, sub); len(batch) == subjectBatch {
				return send()
			}
			return nil
		})
		if readErr == nil && len(batch) > 0 {
			readErr = send()
		}
	}()
	var err error
	for batch := range batches {
		for _, sub := range batch {
			if err == nil {
				if err = l.Subject(sub); err != nil {
					close(stop)
				}
			}
		}
	}
	if err != nil {
		return err
	}
	return readErr
}

// subjectBatch is how many subjects loadSubjects reads ahead at a time.
const subjectBatch = 1024

// errStopped stops reading rows nobody will take.
var errStopped = errors.New("stopped")

// loadSubject is scanSubject for a million rows: the kinds, regions and
// groups, a few distinct values, share their strings, and the usual empty
// list of groups is not decoded.
func loadSubject(stmt *sqlite3.Stmt, in interner) (*socred.Subject, error) {
	sub := &socred.Subject{ID: stmt.ColumnText(0), Kind: socred.SubjectKind(in.text(stmt, 1)),
		Name: stmt.ColumnText(2), Region: in.text(stmt, 3), RegisteredBy: in.text(stmt, 5)}
	var buf [2]byte
	if stmt.ColumnLen(4) == len("[]") && string(buf[:stmt.ColumnBytes(4, buf[:])]) == "[]" {
		sub.Groups = []string{}
		return sub, nil
	}
	if err := json.Unmarshal([]byte(stmt.ColumnText(4)), &sub.Groups); err != nil {
		return nil, fmt.Errorf("subject %s groups: %w", sub.ID, err)
	}
	for i, g := range sub.Groups {
		sub.Groups[i] = in.intern(g)
	}
	return sub, nil
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
	ic, err := pool.take(ctx)
	if err != nil {
		return err
	}
	defer pool.put(ic)
	conn := ic.conn
	unmap, err := mapDatabase(conn)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unmap()) }()
	defer sqlitex.Transaction(conn)(&err)
	stmt := conn.Prep(`SELECT id, subject, scheme, rule, points, occurred_at, counts_until, overturned_at IS NOT NULL OR suspended_at IS NOT NULL
				FROM records WHERE id > ? AND id <= ? AND counts_until > ?`)
	stmt.BindInt64(1, lo)
	stmt.BindInt64(2, hi)
	stmt.BindInt64(3, settled)
	var (
		records = recordsFunc(l)
		in      = interner{}
		batch   = make([]socred.CountingRecord, 0, recordBatch)
		ends    = make([]int, 0, recordBatch) // where each record's subject ends in ids
		ids     []byte
	)
	// flush hands the batch to l, its subjects substrings of one string.
	flush := func() error {
		subjects, start := string(ids), 0
		for i, end := range ends {
			batch[i].Subject, start = subjects[start:end], end
		}
		err := records(batch)
		batch, ends, ids = batch[:0], ends[:0], ids[:0]
		return err
	}
	err = each(stmt, func(stmt *sqlite3.Stmt) error {
		n := stmt.ColumnLen(1)
		ids = slices.Grow(ids, n)[:len(ids)+n]
		stmt.ColumnBytes(1, ids[len(ids)-n:])
		ends = append(ends, len(ids))
		batch = append(batch, socred.CountingRecord{
			ID: stmt.ColumnInt64(0), Scheme: in.text(stmt, 2), Rule: in.text(stmt, 3),
			Points: stmt.ColumnInt64(4), OccurredAt: stmt.ColumnInt64(5) * 1000, CountsUntil: stmt.ColumnInt64(6) * 1000,
			Overturned: stmt.ColumnBool(7),
		})
		if len(batch) == recordBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return err
}

// recordBatch is how many records loadRange hands a loader at once.
const recordBatch = 1024

// recordsFunc returns the way to hand l a batch of records: Records when
// it has it, else Record for each.
func recordsFunc(l socred.Loader) func(rs []socred.CountingRecord) error {
	if rl, ok := l.(socred.RecordsLoader); ok {
		return rl.Records
	}
	return func(rs []socred.CountingRecord) error {
		for i := range rs {
			if err := l.Record(&rs[i]); err != nil {
				return err
			}
		}
		return nil
	}
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

// intern returns the interner's string equal to s, keeping s if it has
// none.
func (in interner) intern(s string) string {
	if t, ok := in[s]; ok {
		return t
	}
	in[s] = s
	return s
}
