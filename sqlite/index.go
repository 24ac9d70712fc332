package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// subjectIndex finds the rows of an append-only table (records, checks,
// accesses, notices) by subject without making appends pay for a
// random-key index: a B-tree insert at a random key dirties a page per row,
// which caps appends at a few tens of thousands of rows a second. Instead
// new rows are indexed in memory (the tail) and merged into the table
// <table>_by_subject of the index file in large sorted batches, where many
// rows share a page. The index file has a writer of its own, so a merge
// never holds the database's writer (in one file, merges of checks held it,
// and the checks waiting on it, for up to 0.7 s), and its own page size
// (4 KiB: a random insert dirties a quarter of what it would in 16 KiB
// pages). Its contents follow from the database, so it is synced only at
// checkpoints: a crash may lose its last merges, which the merged mark,
// committed with them, makes the store redo. Restarting rebuilds the tail
// from the rows after the merged mark.
type subjectIndex struct {
	table string
	// insertOne and insertMany add one and indexRowsPerInsert rows to the
	// on-disk index.
	insertOne, insertMany string

	mu   sync.Mutex
	tail *tail // the ids above merged
	// merging is the tail a merge is writing to disk (nil when none is):
	// a merge swaps the tail out in one step, so that commits adding to
	// the new tail never wait for it. Its ids are all below the tail's.
	merging *tail
	merged  int64 // every id ≤ merged is on disk
	nextID  int64 // the next id to assign (checks, accesses)
}

// tail holds ids in memory by subject, compactly: each id is an entry of
// 16 bytes naming the subject's entry before it, and each subject a map
// slot naming its newest entry. (A map of slices took 66 bytes a row at 2
// million rows of a million subjects, 124 at 500,000 rows of as many: a
// slice header and an array per subject.)
type tail struct {
	last map[string]int32 // subject → index of its newest entry
	// The entries in the order added (ids ascending), in chunks of
	// tailChunk: a tail grows to millions of entries, and a slice of them
	// would be copied whole each time it doubled.
	chunks [][]tailEntry
	n      int32
}

type tailEntry struct {
	id   int64
	prev int32 // the index of the subject's entry before, or -1
}

const tailChunkBits = 12
const tailChunk = 1 << tailChunkBits // entries, 64 KiB

// newTail returns an empty tail with room for subjects.
func newTail(subjects int) *tail {
	return &tail{last: make(map[string]int32, subjects)}
}

// add appends id, above every id added before, to subject's.
func (t *tail) add(subject string, id int64) {
	prev, ok := t.last[subject]
	if !ok {
		prev = -1
	}
	// A tail holds a merge's worth of rows (millions), far below 2^31.
	i := t.n
	t.last[subject] = i
	if i&(tailChunk-1) == 0 {
		t.chunks = append(t.chunks, make([]tailEntry, tailChunk))
	}
	t.chunks[i>>tailChunkBits][i&(tailChunk-1)] = tailEntry{id: id, prev: prev}
	t.n++
}

func (t *tail) at(i int32) *tailEntry { return &t.chunks[i>>tailChunkBits][i&(tailChunk-1)] }

// appendIDs appends subject's ids, ascending, to dst.
func (t *tail) appendIDs(dst []int64, subject string) []int64 {
	i, ok := t.last[subject]
	if !ok {
		return dst
	}
	n := len(dst)
	for i >= 0 {
		e := t.at(i)
		dst = append(dst, e.id)
		i = e.prev
	}
	slices.Reverse(dst[n:])
	return dst
}

func (t *tail) rows() int     { return int(t.n) }
func (t *tail) subjects() int { return len(t.last) }

// indexRowsPerInsert is how many rows one INSERT of a merge adds: measured,
// a merge runs about twice as fast as with one INSERT per row.
const indexRowsPerInsert = 256

func newSubjectIndex(table string) *subjectIndex {
	insert := func(rows int) string {
		return `INSERT OR IGNORE INTO ` + table + `_by_subject (subject, id) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", rows), ", ")
	}
	return &subjectIndex{table: table, tail: newTail(0), insertOne: insert(1), insertMany: insert(indexRowsPerInsert)}
}

// open reads the merged mark from the index file (xconn) and rebuilds the
// tail from the database (conn, the writing connection), before the store
// serves anything.
func (x *subjectIndex) open(conn, xconn *sqlite3.Conn) error {
	stmt := xconn.Prep(`SELECT COALESCE(MAX(merged), 0) FROM marks WHERE tbl = ?`)
	stmt.BindText(1, x.table)
	var err error
	if x.merged, err = sqlitex.ResultInt64(stmt); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	if x.nextID, err = sqlitex.ResultInt64(conn.Prep(`SELECT COALESCE(MAX(id), 0) + 1 FROM ` + x.table)); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	stmt = conn.Prep(`SELECT subject, id FROM ` + x.table + ` WHERE id > ? ORDER BY id`)
	stmt.BindInt64(1, x.merged)
	err = each(stmt, func(stmt *sqlite3.Stmt) error {
		x.tail.add(stmt.ColumnText(0), stmt.ColumnInt64(1))
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	return nil
}

// add indexes committed rows. ids of one call ascend and exceed every id
// added before.
func (x *subjectIndex) add(subjects []string, ids []int64) {
	x.mu.Lock()
	for i, s := range subjects {
		x.tail.add(s, ids[i])
	}
	x.mu.Unlock()
}

// reserve returns the first of n new ids for rows the store numbers itself.
// The caller holds the store's numbering lock (lmu).
func (x *subjectIndex) reserve(n int) int64 {
	first := x.nextID
	x.nextID += int64(n)
	return first
}

// release gives back ids reserved for a write that failed.
func (x *subjectIndex) release(first int64) { x.nextID = first }

// ids returns the subject's ids, ascending. conn is in a read transaction
// that has read nothing yet: the tail is copied before the transaction's
// snapshot is taken, and a merge commits ids to disk before it drops them
// from the tail, so every id is in the copy or in the snapshot.
func (x *subjectIndex) ids(conn *sqlite3.Conn, subject string) ([]int64, error) {
	x.mu.Lock()
	var tail []int64
	if x.merging != nil {
		tail = x.merging.appendIDs(tail, subject)
	}
	tail = x.tail.appendIDs(tail, subject)
	x.mu.Unlock()
	var out []int64
	stmt := conn.Prep(`SELECT id FROM idx.` + x.table + `_by_subject WHERE subject = ? ORDER BY id`)
	stmt.BindText(1, subject)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		out = append(out, stmt.ColumnInt64(0))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s by subject: %w", x.table, err)
	}
	if len(out) > 0 && len(tail) > 0 && tail[0] <= out[len(out)-1] {
		// A merge that was cut short, or one running now, left some tail
		// ids on disk too.
		out = append(out, tail...)
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	return append(out, tail...), nil
}

// pending returns how many ids wait in memory.
func (x *subjectIndex) pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.tail.rows()
}

// merge writes the tail to the index file in chunks sorted by subject, each
// its own transaction of the index file's writer, and advances the merged
// mark in the last one. It returns the number of ids merged. The tail is
// swapped for an empty one first, so commits go on adding to the new tail
// while it runs; a merge that fails leaves its rows to the next one, which
// writes them again (writing a row twice is harmless). With duty above 1
// it rests after each chunk, duty-1 times as long as the chunk took, so
// that it takes about 1/duty of a core while the server serves.
func (x *subjectIndex) merge(ctx context.Context, s *Store, duty int) (int, error) {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	x.mu.Lock()
	if x.merging == nil {
		// The new tail's map is sized like the last's: growing a map of a
		// hundred thousand subjects from empty rehashes it again and again,
		// on the commits that add to it. (Its entries grow by chunks.)
		x.merging, x.tail = x.tail, newTail(x.tail.subjects())
	}
	merging := x.merging
	x.mu.Unlock()
	rows := merging.rows()
	if rows == 0 {
		x.mu.Lock()
		x.merging = nil
		x.mu.Unlock()
		return 0, nil
	}
	// Sorted by subject, and within one by id, as each subject's ids
	// already are: sorting the subjects alone sorts the rows.
	subjects := slices.Sorted(maps.Keys(merging.last))
	upto := merging.at(merging.n - 1).id // ids ascend
	const chunk = 20_000
	var rest time.Duration // how long the last chunk took
	next, pos := 0, 0      // the next row: ids[pos], of subjects[next]
	ids := merging.appendIDs(nil, subjects[0])
	for written := 0; written < rows; {
		if written > 0 && duty > 1 {
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("merge %s index: %w", x.table, ctx.Err())
			case <-time.After(time.Duration(duty-1) * rest):
			}
		}
		began := time.Now()
		part := min(chunk, rows-written)
		last := written+part == rows
		err := s.indexWrite(ctx, func(conn *sqlite3.Conn) error {
			for left := part; left > 0; {
				stmt, n := conn.Prep(x.insertMany), indexRowsPerInsert
				if left < n {
					stmt, n = conn.Prep(x.insertOne), 1
				}
				for i := range n {
					stmt.BindText(2*i+1, subjects[next])
					stmt.BindInt64(2*i+2, ids[pos])
					if pos++; pos == len(ids) && next+1 < len(subjects) {
						next, pos = next+1, 0
						ids = merging.appendIDs(ids[:0], subjects[next])
					}
				}
				if err := exec(stmt); err != nil {
					return err
				}
				left -= n
			}
			if !last {
				return nil
			}
			stmt := conn.Prep(`INSERT INTO marks (tbl, merged) VALUES (?, ?) ON CONFLICT (tbl) DO UPDATE SET merged = excluded.merged`)
			stmt.BindText(1, x.table)
			stmt.BindInt64(2, upto)
			return exec(stmt)
		})
		if err != nil {
			return 0, fmt.Errorf("merge %s index: %w", x.table, err)
		}
		written += part
		rest = time.Since(began)
	}
	x.mu.Lock()
	x.merged = upto
	x.merging = nil
	x.mu.Unlock()
	return rows, nil
}

// mergeDuty paces the background merges: each takes about 1/mergeDuty of
// a core. A merge of the checks index at a million subjects took 4-5 s of
// CPU for 500,000 rows (BenchmarkMergeChecks: 4.8 s for 2,000,000); at
// full speed it took a third of both cores from the checks for several
// seconds.
const mergeDuty = 4

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
				if _, err := x.merge(ctx, s, mergeDuty); err != nil && ctx.Err() == nil {
					s.log.Error("index merge failed", "table", x.table, "err", err)
				}
				idle = 0
			}
		}
	}
}

func (s *Store) indexes() []*subjectIndex {
	return []*subjectIndex{s.records, s.checks, s.accesses, s.notices}
}

// MergeIndexes merges every pending subject index now.
func (s *Store) MergeIndexes(ctx context.Context) error {
	for _, x := range s.indexes() {
		if _, err := x.merge(ctx, s, 1); err != nil {
			return err
		}
	}
	return nil
}
