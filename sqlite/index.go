package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// subjectIndex finds the rows of an append-only table (records, checks,
// accesses) by subject without making appends pay for a random-key index:
// a B-tree insert at a random key dirties a page per row, which caps
// appends at a few tens of thousands of rows a second. Instead new rows
// are indexed in memory (the tail) and merged into the on-disk table
// <table>_by_subject in large sorted batches, where many rows share a page.
// Restarting rebuilds the tail from the rows after the merged mark.
type subjectIndex struct {
	table string

	mu     sync.Mutex
	tail   map[string][]int64 // subject → ids above merged, ascending
	rows   int                // ids in tail
	merged int64              // every id ≤ merged is on disk
	nextID int64              // the next id to assign (checks, accesses)
}

func newSubjectIndex(table string) *subjectIndex {
	return &subjectIndex{table: table, tail: map[string][]int64{}}
}

// open reads the merged mark and rebuilds the tail.
func (x *subjectIndex) open(ctx context.Context, db *sql.DB) error {
	if err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, x.table+"_indexed").Scan(&x.merged); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+x.table).Scan(&x.nextID); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT subject, id FROM `+x.table+` WHERE id > ? ORDER BY id`, x.merged)
	if err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var id int64
		if err := rows.Scan(&s, &id); err != nil {
			return err
		}
		x.tail[s] = append(x.tail[s], id)
		x.rows++
	}
	return rows.Err()
}

// add indexes committed rows. ids of one call ascend and exceed every id
// added before.
func (x *subjectIndex) add(subjects []string, ids []int64) {
	x.mu.Lock()
	for i, s := range subjects {
		x.tail[s] = append(x.tail[s], ids[i])
	}
	x.rows += len(ids)
	x.mu.Unlock()
}

// reserve returns the first of n new ids for rows the store numbers itself.
// The caller holds the store's write lock.
func (x *subjectIndex) reserve(n int) int64 {
	first := x.nextID
	x.nextID += int64(n)
	return first
}

// release gives back ids reserved for a write that failed.
func (x *subjectIndex) release(first int64) { x.nextID = first }

// ids returns the subject's ids, ascending.
func (x *subjectIndex) ids(ctx context.Context, db *sql.DB, subject string) ([]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT id FROM `+x.table+`_by_subject WHERE subject = ? ORDER BY id`, subject)
	if err != nil {
		return nil, fmt.Errorf("%s by subject: %w", x.table, err)
	}
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	x.mu.Lock()
	tail := x.tail[subject]
	if len(out) > 0 && len(tail) > 0 && tail[0] <= out[len(out)-1] {
		// A merge that was cut short left some tail ids on disk too.
		out = append(out, tail...)
		slices.Sort(out)
		out = slices.Compact(out)
	} else {
		out = append(out, tail...)
	}
	x.mu.Unlock()
	return out, nil
}

// pending returns how many ids wait in memory.
func (x *subjectIndex) pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.rows
}

// merge writes the tail to disk in sorted chunks, each its own
// transaction under the store's write lock, and advances the merged mark in
// the last one. It returns the number of ids merged.
func (x *subjectIndex) merge(ctx context.Context, s *Store) (int, error) {
	x.mu.Lock()
	type entry struct {
		subject string
		id      int64
	}
	var upto int64
	entries := make([]entry, 0, x.rows)
	for subj, ids := range x.tail {
		for _, id := range ids {
			entries = append(entries, entry{subj, id})
			upto = max(upto, id)
		}
	}
	x.mu.Unlock()
	if len(entries) == 0 {
		return 0, nil
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
	const chunk = 20_000
	for start := 0; start < len(entries); start += chunk {
		part := entries[start:min(start+chunk, len(entries))]
		last := start+chunk >= len(entries)
		err := s.write(ctx, func(tx *sql.Tx) error {
			const perStmt = 400
			for i := 0; i < len(part); i += perStmt {
				rows := part[i:min(i+perStmt, len(part))]
				args := make([]any, 0, 2*len(rows))
				for _, e := range rows {
					args = append(args, e.subject, e.id)
				}
				q := `INSERT OR IGNORE INTO ` + x.table + `_by_subject (subject, id) VALUES (?, ?)` + strings.Repeat(", (?, ?)", len(rows)-1)
				if _, err := tx.ExecContext(ctx, q, args...); err != nil {
					return err
				}
			}
			if last {
				_, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = ?`, upto, x.table+"_indexed")
				return err
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("merge %s index: %w", x.table, err)
		}
	}
	x.mu.Lock()
	x.merged = upto
	for subj, ids := range x.tail {
		i, _ := slices.BinarySearch(ids, upto+1)
		x.rows -= i
		if i == len(ids) {
			delete(x.tail, subj)
		} else {
			x.tail[subj] = ids[i:]
		}
	}
	x.mu.Unlock()
	return len(entries), nil
}

// mergeLoop merges an index whenever its tail reaches threshold rows, and
// whatever is pending after a quiet minute.
func (s *Store) mergeLoop(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		idle++
		for _, x := range s.indexes() {
			n := x.pending()
			if n >= s.MergeThreshold || (n > 0 && idle >= 60) {
				if _, err := x.merge(ctx, s); err != nil && ctx.Err() == nil {
					s.log.Error("index merge failed", "table", x.table, "err", err)
				}
				idle = 0
			}
		}
	}
}

func (s *Store) indexes() []*subjectIndex { return []*subjectIndex{s.records, s.checks, s.accesses} }

// MergeIndexes merges every pending subject index now.
func (s *Store) MergeIndexes(ctx context.Context) error {
	for _, x := range s.indexes() {
		if _, err := x.merge(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
