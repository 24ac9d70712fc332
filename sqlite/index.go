package sqlite

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred/internal/keyindex"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// subjectIndex finds the rows of an append-only table (records, checks,
// accesses, notices) by subject without making appends pay for a
// random-key index: a B-tree insert at a random key dirties a page per row,
// which caps appends at a few tens of thousands of rows a second. Instead
// new rows are indexed in memory (the tail) and merged into the index file
// in large sorted batches, each written in order as a table of its own (a
// run, see indexRun), and runs of about one size are merged into one now
// and then (compact): a read looks a subject up in each run, a few dozen
// at most. The index file has a writer of its own, so a merge never holds
// the database's writer (in one file, merges of checks held it, and the
// checks waiting on it, for up to 0.7 s). Its contents follow from the
// database, so it is synced only at checkpoints: a crash may lose its last
// merges, which the merged mark, committed with them, makes the store
// redo. Restarting rebuilds the tail from the rows after the merged mark.
type subjectIndex struct {
	table string

	mu   sync.Mutex
	tail *tail // the ids above merged
	// merging is the tail a merge is writing to disk (nil when none is):
	// a merge swaps the tail out in one step, so that commits adding to
	// the new tail never wait for it. Its ids are all below the tail's.
	merging *tail
	merged  int64 // every id ≤ merged is on disk
	nextID  int64 // the next id to assign (checks, accesses)
	// expired is the last id deleted at the end of its retention
	// (checks, accesses): every row up to it is gone, and reads and
	// compactions leave its ids out.
	expired int64
	// dropped lists the runs compactions dropped, in order, and evicted
	// how many of them each reading connection has let go of the cached
	// statement of (see runIDs).
	dropped []int64
	evicted map[*sqlite3.Conn]int

	// Under the store's mergeMu: the runs on disk, oldest first, and the
	// number of the next.
	runs    []indexRun
	nextRun int64
}

// indexRun is a sorted run of a subject index: a table of the index file
// (see runTable) holding the rows of one merge, or of several runs merged
// into one (compact). The index file's table runs lists them; a table not
// listed there is a merge cut short, and is dropped.
//
// A run is packed (as every run written since index files knew the form
// is): a row a subject, its ids in a blob (packIDs), so that a merge or a
// compaction writes a B-tree row per subject instead of per id: a merge
// of 2,000,000 checks of random subjects of a million writes about
// 865,000 rows instead of 2,000,000, and a compaction of four such runs
// one a subject instead of 8,000,000.
// Runs of older index files hold a row per id, and are read as they are
// until a compaction merges them into a packed one.
type indexRun struct {
	id     int64
	rows   int64 // ids; -1 for run 0, the table of older versions, never compacted
	packed bool
}

// packIDs appends ids (ascending) to dst as a run's blob keeps them: the
// first as a uvarint, and each after it as the uvarint of its distance
// from the one before.
func packIDs(dst []byte, ids []int64) []byte {
	prev := int64(0)
	for _, id := range ids {
		dst = binary.AppendUvarint(dst, uint64(id-prev)) // #nosec G115 -- ids ascend from 1: the distance is not negative
		prev = id
	}
	return dst
}

// unpackIDs appends the ids a blob of packIDs holds to dst.
func unpackIDs(dst []int64, blob []byte) ([]int64, error) {
	id := int64(0)
	for len(blob) > 0 {
		d, n := binary.Uvarint(blob)
		if n <= 0 || d > uint64(math.MaxInt64-id) {
			return dst, fmt.Errorf("a run's ids: not a packed list of ids")
		}
		id += int64(d) // #nosec G115 -- at most MaxInt64-id, checked above
		dst = append(dst, id)
		blob = blob[n:]
	}
	return dst, nil
}

// columnIDs appends the ids of a packed run's blob in column col of the
// row to dst, reading the blob into *blob.
func columnIDs(stmt *sqlite3.Stmt, col int, blob *[]byte, dst []int64) ([]int64, error) {
	n := stmt.ColumnLen(col)
	*blob = slices.Grow((*blob)[:0], n)[:n]
	stmt.ColumnBytes(col, *blob)
	return unpackIDs(dst, *blob)
}

// tail holds ids in memory by subject, compactly: each id is an entry of
// 16 bytes naming the subject's entry before it, and each subject a slot
// naming its newest entry. (A map of slices took 66 bytes a row at 2
// million rows of a million subjects, 124 at 500,000 rows of as many: a
// slice header and an array per subject.) The index gives a subject's
// slot, which does not change, so that adding a row of a subject seen
// before looks the subject up once instead of looking it up and storing
// it; rows are added in batches (addAll), whose lookups wait for their
// cache misses together. (A map from subject to slot took 3 s of CPU to
// read a start's six million rows of a million subjects.)
type tail struct {
	index keyindex.Index // subject → its slot in heads
	heads []int32        // by slot: the index of the subject's newest entry
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

// tailIDBytes is about how long a subject's id is, to size a new tail's
// index.
const tailIDBytes = 16

// newTail returns an empty tail with room for subjects.
func newTail(subjects int) *tail {
	t := &tail{heads: make([]int32, 0, subjects)}
	t.index.Grow(subjects, subjects*tailIDBytes)
	return t
}

// addAll appends ids[i] to subjects[i]'s, for each i; ids ascend, above
// every id added before.
func (t *tail) addAll(subjects []string, ids []int64) {
	var (
		hashes [keyindex.Batch]uint64
		slots  [keyindex.Batch]int32
	)
	for lo := 0; lo < len(subjects); lo += keyindex.Batch {
		batch := subjects[lo:min(lo+keyindex.Batch, len(subjects))]
		for i, s := range batch {
			hashes[i] = keyindex.Hash(s)
		}
		t.index.LookupAll(batch, hashes[:len(batch)], slots[:len(batch)])
		for i, s := range batch {
			k := slots[i]
			if k < 0 {
				// New, unless a row before it in the batch added it.
				k = t.slot(s, hashes[i])
			}
			t.append(k, ids[lo+i])
		}
	}
}

// slot returns subject's slot, whose hash is h, making one if it has none.
func (t *tail) slot(subject string, h uint64) int32 {
	t.index.Reserve()
	k, free := t.index.Lookup(subject, h)
	if k < 0 {
		// A tail holds a merge's worth of rows (millions), far below 2^31.
		k = int32(len(t.heads)) // #nosec G115 -- as many subjects as rows at most
		t.index.Insert(free, subject, h, k)
		t.heads = append(t.heads, -1)
	}
	return k
}

func (t *tail) append(k int32, id int64) {
	i := t.n
	prev := t.heads[k]
	t.heads[k] = i
	if i&(tailChunk-1) == 0 {
		t.chunks = append(t.chunks, make([]tailEntry, tailChunk))
	}
	t.chunks[i>>tailChunkBits][i&(tailChunk-1)] = tailEntry{id: id, prev: prev}
	t.n++
}

func (t *tail) at(i int32) *tailEntry { return &t.chunks[i>>tailChunkBits][i&(tailChunk-1)] }

// appendIDs appends subject's ids, ascending, to dst.
func (t *tail) appendIDs(dst []int64, subject string) []int64 {
	k, _ := t.index.Lookup(subject, keyindex.Hash(subject))
	if k < 0 {
		return dst
	}
	return t.appendSlot(dst, k)
}

// appendSlot appends the ids of the subject in slot k, ascending, to dst.
func (t *tail) appendSlot(dst []int64, k int32) []int64 {
	i := t.heads[k]
	n := len(dst)
	for i >= 0 {
		e := t.at(i)
		dst = append(dst, e.id)
		i = e.prev
	}
	slices.Reverse(dst[n:])
	return dst
}

// sorted returns the tail's subjects with their slots, by subject.
func (t *tail) sorted() []tailSubject {
	subjects := make([]tailSubject, 0, t.index.Len())
	for s, k := range t.index.All {
		subjects = append(subjects, tailSubject{s, k})
	}
	slices.SortFunc(subjects, func(a, b tailSubject) int { return strings.Compare(a.subject, b.subject) })
	return subjects
}

type tailSubject struct {
	subject string
	slot    int32
}

func (t *tail) rows() int     { return int(t.n) }
func (t *tail) subjects() int { return t.index.Len() }

// indexRowsPerInsert is how many rows one INSERT of a merge adds: measured,
// a merge runs about twice as fast as with one INSERT per row.
const indexRowsPerInsert = 256

func newSubjectIndex(table string) *subjectIndex {
	return &subjectIndex{table: table, tail: newTail(0)}
}

// runTable names run id's table: run 0 is <table>_by_subject, where older
// versions merged every row, and run n its namesake with the suffix _n.
func (x *subjectIndex) runTable(id int64) string {
	if id == 0 {
		return x.table + "_by_subject"
	}
	return x.table + "_by_subject_" + strconv.FormatInt(id, 10)
}

// insertRows returns an INSERT of rows rows into run id's table, packed.
func (x *subjectIndex) insertRows(id int64, rows int) string {
	return `INSERT INTO ` + x.runTable(id) + ` (subject, ids) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?), ", rows), ", ")
}

// open reads the merged mark and the runs from the index file (xw), and
// the next id from the database (conn, the writing connection), before the
// store serves anything; loadTail then reads the rows above the mark.
func (x *subjectIndex) open(conn *sqlite3.Conn, xw *interruptible) error {
	xconn := xw.conn
	stmt := xconn.Prep(`SELECT COALESCE(MAX(merged), 0) FROM marks WHERE tbl = ?`)
	stmt.BindText(1, x.table)
	var err error
	if x.merged, err = sqlitex.ResultInt64(stmt); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	if x.nextID, err = sqlitex.ResultInt64(conn.Prep(`SELECT COALESCE(MAX(id), 0) + 1 FROM ` + x.table)); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	stmt = conn.Prep(`SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = ?`)
	stmt.BindText(1, x.table+"_expired")
	if x.expired, err = sqlitex.ResultInt64(stmt); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	// The table may be empty, every row expired: the ids go on.
	x.nextID = max(x.nextID, x.expired+1)
	if err := x.openRuns(xw); err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	return nil
}

// loadTail reads the rows not yet merged into the index file into the
// tail, on conn, before anything is added to it.
func (x *subjectIndex) loadTail(conn *sqlite3.Conn) error {
	stmt := conn.Prep(`SELECT subject, id FROM ` + x.table + ` WHERE id > ? ORDER BY id`)
	stmt.BindInt64(1, x.merged)
	// Read a batch at a time, the subjects into one buffer made a string
	// once a batch, and added to the tail together.
	var (
		buf      []byte
		ends     [keyindex.Batch]int
		subjects [keyindex.Batch]string
		ids      [keyindex.Batch]int64
		n        int
	)
	flush := func() {
		all := string(buf)
		for i, from := 0, 0; i < n; i++ {
			subjects[i], from = all[from:ends[i]], ends[i]
		}
		x.tail.addAll(subjects[:n], ids[:n])
		buf, n = buf[:0], 0
	}
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		from := len(buf)
		buf = slices.Grow(buf, stmt.ColumnLen(0))[:from+stmt.ColumnLen(0)]
		stmt.ColumnBytes(0, buf[from:])
		ends[n], ids[n] = len(buf), stmt.ColumnInt64(1)
		if n++; n == keyindex.Batch {
			flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s index: %w", x.table, err)
	}
	flush()
	return nil
}

// add indexes committed rows. ids of one call ascend and exceed every id
// added before.
func (x *subjectIndex) add(subjects []string, ids []int64) {
	x.mu.Lock()
	x.tail.addAll(subjects, ids)
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
// snapshot is taken, and a merge commits ids to disk (a run, listed in the
// table runs) before it drops them from the tail, so every id is in the
// copy or in the snapshot. The runs are read from the snapshot too, so the
// tables read are those it holds, whatever merges did since.
func (x *subjectIndex) ids(conn *sqlite3.Conn, subject string) ([]int64, error) {
	x.mu.Lock()
	var tail []int64
	if x.merging != nil {
		tail = x.merging.appendIDs(tail, subject)
	}
	tail = x.tail.appendIDs(tail, subject)
	expired := x.expired
	gone := x.dropped[x.evicted[conn]:]
	if len(gone) > 0 {
		if x.evicted == nil {
			x.evicted = map[*sqlite3.Conn]int{}
		}
		x.evicted[conn] = len(x.dropped)
	}
	x.mu.Unlock()
	for _, run := range gone {
		// A statement cached for a run that is gone is let go of, so
		// that a connection's cache does not grow with every run there
		// ever was. (One not cached fails to prepare, and nothing is
		// cached.) The run was of either form.
		for _, packed := range []bool{true, false} {
			if stmt, err := conn.Prepare(x.runQuery(indexRun{id: run, packed: packed})); err == nil {
				stmt.Finalize() // #nosec G104 -- the statement is let go of; an error finalizing it is of no consequence
			}
		}
	}
	var runs []indexRun
	stmt := conn.Prep(`SELECT run, packed FROM idx.runs WHERE tbl = ? ORDER BY run`)
	stmt.BindText(1, x.table)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		runs = append(runs, indexRun{id: stmt.ColumnInt64(0), packed: stmt.ColumnBool(1)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s runs: %w", x.table, err)
	}
	var out []int64
	for _, run := range runs {
		if out, err = x.runIDs(conn, run, subject, out); err != nil {
			return nil, fmt.Errorf("%s by subject: %w", x.table, err)
		}
	}
	out = append(out, tail...)
	if !slices.IsSorted(out) {
		// Ids of a merge that listed its run after the tail was copied are
		// in both; and run 0 may hold ids of the tail (older versions merged
		// into it in place, and a merge cut short left some rows there).
		slices.Sort(out)
	}
	// The expired are gone from the table, though runs not compacted
	// since still list them: left out, not looked up. (They are a
	// subject's oldest, so a page of the newest holds them only after
	// every row kept.)
	first, _ := slices.BinarySearch(out, expired+1)
	out = out[first:]
	return slices.Compact(out), nil
}

// expire leaves the ids up to last out of reads and compactions: their
// rows were deleted (commit, Write.Expire).
func (x *subjectIndex) expire(last int64) {
	x.mu.Lock()
	x.expired = max(x.expired, last)
	x.mu.Unlock()
}

// runIDs appends the subject's ids in run's table to dst.
func (x *subjectIndex) runIDs(conn *sqlite3.Conn, run indexRun, subject string, dst []int64) ([]int64, error) {
	stmt, err := conn.Prepare(x.runQuery(run))
	if err != nil {
		return dst, err
	}
	stmt.BindText(1, subject)
	var blob []byte
	err = each(stmt, func(stmt *sqlite3.Stmt) error {
		if !run.packed {
			dst = append(dst, stmt.ColumnInt64(0))
			return nil
		}
		var err error
		dst, err = columnIDs(stmt, 0, &blob, dst)
		return err
	})
	return dst, err
}

// runQuery is the query of a subject's ids in run's table.
func (x *subjectIndex) runQuery(run indexRun) string {
	if run.packed {
		return `SELECT ids FROM idx.` + x.runTable(run.id) + ` WHERE subject = ?`
	}
	return `SELECT id FROM idx.` + x.runTable(run.id) + ` WHERE subject = ? ORDER BY id`
}

// pending returns how many ids wait in memory.
func (x *subjectIndex) pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.tail.rows()
}

// openRuns reads the runs of the index from the index file (xw), lists
// run 0 if it holds rows and is not listed yet, and drops the tables of
// runs never listed (merges cut short).
func (x *subjectIndex) openRuns(xw *interruptible) error {
	xconn := xw.conn
	x.runs, x.nextRun = nil, 1
	stmt := xconn.Prep(`SELECT run, rows, packed FROM runs WHERE tbl = ? ORDER BY run`)
	stmt.BindText(1, x.table)
	err := each(stmt, func(stmt *sqlite3.Stmt) error {
		r := indexRun{id: stmt.ColumnInt64(0), rows: stmt.ColumnInt64(1), packed: stmt.ColumnBool(2)}
		x.runs = append(x.runs, r)
		x.nextRun = max(x.nextRun, r.id+1)
		return nil
	})
	if err != nil {
		return err
	}
	var orphans []string
	stmt = xconn.Prep(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE ? ESCAPE '\'`)
	stmt.BindText(1, strings.ReplaceAll(x.runTable(0), "_", `\_`)+`\_%`)
	err = each(stmt, func(stmt *sqlite3.Stmt) error {
		name := stmt.ColumnText(0)
		id, err := strconv.ParseInt(strings.TrimPrefix(name, x.runTable(0)+"_"), 10, 64)
		if err != nil || id < 1 {
			return nil // not a run's table
		}
		x.nextRun = max(x.nextRun, id+1)
		if !slices.ContainsFunc(x.runs, func(r indexRun) bool { return r.id == id }) {
			orphans = append(orphans, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	listed := slices.ContainsFunc(x.runs, func(r indexRun) bool { return r.id == 0 })
	return immediate(context.Background(), xw, func(conn *sqlite3.Conn) error {
		for _, name := range orphans {
			if err := sqlitex.ExecuteTransient(conn, `DROP TABLE `+name, nil); err != nil {
				return err
			}
		}
		if listed {
			return nil
		}
		held, err := sqlitex.ResultBool(conn.Prep(`SELECT EXISTS (SELECT 1 FROM ` + x.runTable(0) + `)`))
		if err != nil || !held {
			return err
		}
		x.runs = append([]indexRun{{id: 0, rows: -1}}, x.runs...)
		return addRun(conn, x.table, indexRun{id: 0, rows: -1})
	})
}

// addRun lists run r of table's index.
func addRun(conn *sqlite3.Conn, table string, r indexRun) error {
	stmt := conn.Prep(`INSERT INTO runs (tbl, run, rows, packed) VALUES (?, ?, ?, ?)`)
	stmt.BindText(1, table)
	stmt.BindInt64(2, r.id)
	stmt.BindInt64(3, r.rows)
	stmt.BindBool(4, r.packed)
	return exec(stmt)
}

// runWriter writes the rows of a new run, in ascending order, into its
// table, packed (a row a subject, see indexRun): in transactions of the
// index file's writer of about runChunk ids each, resting between them as
// duty says (see merge). The table is made by the first; done is run in
// the last, and lists the run.
type runWriter struct {
	x       *subjectIndex
	s       *Store
	ctx     context.Context
	duty    int
	run     indexRun
	many    string // the INSERT of indexRowsPerInsert rows
	buf     []packedRow
	blobs   []byte // the buffered rows' ids, packed
	ids     int64  // the ids in buf
	subject string // the subject whose ids cur holds
	cur     []int64
	written int64         // ids
	rest    time.Duration // how long the last transaction took
}

// packedRow is a packed run's row: a subject and its ids, packed in the
// runWriter's blobs from from to to.
type packedRow struct {
	subject  string
	from, to int
}

type indexRow struct {
	subject string
	id      int64
}

// runChunk is how many rows one transaction of a merge writes.
const runChunk = 20_000

func (x *subjectIndex) newRunWriter(ctx context.Context, s *Store, duty int) *runWriter {
	id := x.nextRun
	x.nextRun++
	return &runWriter{x: x, s: s, ctx: ctx, duty: duty, run: indexRun{id: id, packed: true}, many: x.insertRows(id, indexRowsPerInsert)}
}

// add adds a row, in ascending order, writing a chunk when one is full:
// a subject's ids are gathered into one packed row.
func (w *runWriter) add(subject string, id int64) error {
	if subject == w.subject && len(w.cur) > 0 {
		w.cur = append(w.cur, id)
		return nil
	}
	w.pack()
	w.subject, w.cur = subject, append(w.cur[:0], id)
	if w.ids < runChunk {
		return nil
	}
	return w.flush(nil)
}

// pack moves the subject's ids gathered into a packed row of the buffer.
func (w *runWriter) pack() {
	if len(w.cur) == 0 {
		return
	}
	// Ascending as added; the same id twice (a row that run 0 and a run
	// both hold) is kept once.
	if !slices.IsSorted(w.cur) {
		slices.Sort(w.cur)
	}
	w.cur = slices.Compact(w.cur)
	from := len(w.blobs)
	w.blobs = packIDs(w.blobs, w.cur)
	w.buf = append(w.buf, packedRow{w.subject, from, len(w.blobs)})
	w.ids += int64(len(w.cur))
	w.cur = w.cur[:0]
}

// flush writes the rows added since the last chunk, with done (if not
// nil) in the same transaction.
func (w *runWriter) flush(done func(conn *sqlite3.Conn) error) error {
	if done != nil {
		w.pack() // the last subject's
	}
	if w.written > 0 && w.duty > 1 {
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-time.After(time.Duration(w.duty-1) * w.rest):
		}
	}
	began := time.Now()
	err := w.s.indexWrite(w.ctx, func(conn *sqlite3.Conn) error {
		if w.written == 0 {
			err := sqlitex.ExecuteTransient(conn, `CREATE TABLE `+w.x.runTable(w.run.id)+
				` (subject TEXT NOT NULL PRIMARY KEY, ids BLOB NOT NULL) WITHOUT ROWID`, nil)
			if err != nil {
				return err
			}
		}
		// Statements naming a run's table are not kept in the connection's
		// cache: each run has its own, and most are dropped again.
		rows := w.buf
		if n := len(rows) - len(rows)%indexRowsPerInsert; n > 0 {
			if err := insertTransient(conn, w.many, rows[:n], w.blobs); err != nil {
				return err
			}
			rows = rows[n:]
		}
		if len(rows) > 0 {
			if err := insertTransient(conn, w.x.insertRows(w.run.id, len(rows)), rows, w.blobs); err != nil {
				return err
			}
		}
		if done != nil {
			w.run.rows = w.written + w.ids
			return done(conn)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.written += w.ids
	w.buf, w.blobs, w.ids = w.buf[:0], w.blobs[:0], 0
	w.rest = time.Since(began)
	return nil
}

// insertTransient runs query, an INSERT of k packed rows, over rows (a
// multiple of k of them) k at a time; their ids are in blobs.
func insertTransient(conn *sqlite3.Conn, query string, rows []packedRow, blobs []byte) (err error) {
	stmt, _, err := conn.PrepareTransient(query)
	if err != nil {
		return err
	}
	defer func() {
		if ferr := stmt.Finalize(); err == nil {
			err = ferr
		}
	}()
	k := stmt.BindParamCount() / 2
	for ; len(rows) > 0; rows = rows[k:] {
		for i, r := range rows[:k] {
			stmt.BindText(2*i+1, r.subject)
			stmt.BindBytes(2*i+2, blobs[r.from:r.to])
		}
		if err := exec(stmt); err != nil {
			return err
		}
	}
	return nil
}

// abandon drops the table of a run that failed, if it can (opening the
// store drops it otherwise).
func (w *runWriter) abandon() {
	if w.written == 0 {
		return
	}
	err := w.s.indexWrite(context.WithoutCancel(w.ctx), func(conn *sqlite3.Conn) error {
		return sqlitex.ExecuteTransient(conn, `DROP TABLE IF EXISTS `+w.x.runTable(w.run.id), nil)
	})
	if err != nil {
		w.s.log.Warn("index merge: dropping the run of a failed merge", "table", w.x.table, "err", err)
	}
}

// merge writes the tail to the index file as a new run, sorted by subject,
// in chunks each its own transaction of the index file's writer, lists the
// run and advances the merged mark in the last one, and then merges runs
// into larger ones as compact says. It returns the number of ids merged.
// The tail is swapped for an empty one first, so commits go on adding to
// the new tail while it runs; a merge that fails leaves its rows to the
// next one. With duty above 1 it rests after each chunk, duty-1 times as
// long as the chunk took, so that it takes about 1/duty of a core while
// the server serves.
//
// A run is written in order into a table of its own, so its pages are
// written once, full, one after another. (Merging into one table instead
// dirtied a page for nearly every row at a million subjects, and rewrote
// most of a growing table at each merge: 4.2 µs a row into 5,000,000,
// BenchmarkMergeChecks.)
func (x *subjectIndex) merge(ctx context.Context, s *Store, duty int) (int, error) {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	x.mu.Lock()
	if x.merging == nil {
		// The new tail's index is sized like the last's: growing an index
		// of a hundred thousand subjects from empty rehashes it again and
		// again, on the commits that add to it. (Its entries grow by
		// chunks.)
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
	subjects := merging.sorted()
	upto := merging.at(merging.n - 1).id // ids ascend
	w := x.newRunWriter(ctx, s, duty)
	x.mu.Lock()
	expired := x.expired
	x.mu.Unlock()
	err := func() error {
		var ids []int64
		for _, subject := range subjects {
			ids = merging.appendSlot(ids[:0], subject.slot)
			for _, id := range ids {
				if id <= expired {
					continue // its row is gone (expire)
				}
				if err := w.add(subject.subject, id); err != nil {
					return err
				}
			}
		}
		return w.flush(func(conn *sqlite3.Conn) error {
			if err := addRun(conn, x.table, w.run); err != nil {
				return err
			}
			stmt := conn.Prep(`INSERT INTO marks (tbl, merged) VALUES (?, ?) ON CONFLICT (tbl) DO UPDATE SET merged = excluded.merged`)
			stmt.BindText(1, x.table)
			stmt.BindInt64(2, upto)
			return exec(stmt)
		})
	}()
	if err != nil {
		w.abandon()
		return 0, fmt.Errorf("merge %s index: %w", x.table, err)
	}
	x.runs = append(x.runs, w.run)
	x.mu.Lock()
	x.merged = upto
	x.merging = nil
	x.mu.Unlock()
	if err := x.compact(ctx, s, duty); err != nil {
		return rows, err
	}
	return rows, nil
}

// runFanIn is how many runs of about one size compact merges into one: a
// row is written again about once each time the rows after it grow
// runFanIn-fold, and a subject's ids are looked up in at most about
// runFanIn-1 runs of each size (runLevel).
const runFanIn = 4

// runLevel is a run's size class: runs of fewer than 65,536 rows are of
// level 0, and each level above holds runs runFanIn times as large.
func runLevel(rows int64) int {
	return (bits.Len64(uint64(max(rows, 0))>>16) + 1) / 2 // log4
}

// compactable returns how many of the newest runs compact merges now: the
// runFanIn newest if they are of one level, else none. Run 0 is never
// merged.
func compactable(runs []indexRun) int {
	if len(runs) < runFanIn {
		return 0
	}
	newest := runs[len(runs)-runFanIn:]
	for _, r := range newest {
		if r.rows < 0 || runLevel(r.rows) != runLevel(newest[0].rows) {
			return 0
		}
	}
	return runFanIn
}

// compact merges the newest runs into one while compactable says so. The
// caller holds mergeMu.
func (x *subjectIndex) compact(ctx context.Context, s *Store, duty int) error {
	for {
		n := compactable(x.runs)
		if n == 0 {
			return nil
		}
		from := x.runs[len(x.runs)-n:]
		r, err := x.mergeRuns(ctx, s, duty, from)
		if err != nil {
			return fmt.Errorf("compact %s index: %w", x.table, err)
		}
		x.runs = append(slices.Clone(x.runs[:len(x.runs)-n]), r)
		x.mu.Lock()
		for _, d := range from {
			x.dropped = append(x.dropped, d.id)
		}
		x.mu.Unlock()
	}
}

// mergeRuns writes the rows of runs into a new run, lists it in their
// stead, and drops their tables, in its last transaction: a read of the
// index sees the runs or the new one. Each run's rows are read in order a
// page at a time.
func (x *subjectIndex) mergeRuns(ctx context.Context, s *Store, duty int, runs []indexRun) (indexRun, error) {
	w := x.newRunWriter(ctx, s, duty)
	x.mu.Lock()
	expired := x.expired
	x.mu.Unlock()
	type source struct {
		stmt   string
		packed bool
		rows   []indexRow
		next   int
		done   bool
	}
	srcs := make([]*source, len(runs))
	for i, r := range runs {
		if r.packed {
			srcs[i] = &source{packed: true, stmt: `SELECT subject, ids FROM ` + x.runTable(r.id) + ` WHERE subject > ? ORDER BY subject LIMIT 1024`}
		} else {
			srcs[i] = &source{stmt: `SELECT subject, id FROM ` + x.runTable(r.id) + ` WHERE (subject, id) > (?, ?) ORDER BY subject, id LIMIT 4096`}
		}
	}
	// fill reads the source's next rows after its last (its first, the
	// first time); a packed run's rows a subject at a time, each id a row.
	var blob []byte
	var ids []int64
	fill := func(src *source) error {
		after := indexRow{id: -1}
		if len(src.rows) > 0 {
			after = src.rows[len(src.rows)-1]
		}
		src.rows, src.next = src.rows[:0], 0
		return s.indexWrite(ctx, func(conn *sqlite3.Conn) error {
			stmt, _, err := conn.PrepareTransient(src.stmt)
			if err != nil {
				return err
			}
			defer stmt.Finalize() // #nosec G104 -- each's error is the one to report
			stmt.BindText(1, after.subject)
			if !src.packed {
				stmt.BindInt64(2, after.id)
			}
			err = each(stmt, func(stmt *sqlite3.Stmt) error {
				if !src.packed {
					src.rows = append(src.rows, indexRow{stmt.ColumnText(0), stmt.ColumnInt64(1)})
					return nil
				}
				subject := stmt.ColumnText(0)
				var err error
				if ids, err = columnIDs(stmt, 1, &blob, ids[:0]); err != nil {
					return err
				}
				for _, id := range ids {
					src.rows = append(src.rows, indexRow{subject, id})
				}
				return nil
			})
			src.done = err == nil && len(src.rows) == 0
			return err
		})
	}
	err := func() error {
		for {
			var least *source
			for _, src := range srcs {
				if src.done {
					continue
				}
				if src.next == len(src.rows) {
					if err := fill(src); err != nil {
						return err
					}
					if src.done {
						continue
					}
				}
				if least == nil || rowLess(src.rows[src.next], least.rows[least.next]) {
					least = src
				}
			}
			if least == nil {
				break
			}
			r := least.rows[least.next]
			least.next++
			if r.id <= expired {
				continue // its row is gone (expire)
			}
			if err := w.add(r.subject, r.id); err != nil {
				return err
			}
		}
		return w.flush(func(conn *sqlite3.Conn) error {
			if err := addRun(conn, x.table, w.run); err != nil {
				return err
			}
			for _, r := range runs {
				stmt := conn.Prep(`DELETE FROM runs WHERE tbl = ? AND run = ?`)
				stmt.BindText(1, x.table)
				stmt.BindInt64(2, r.id)
				if err := exec(stmt); err != nil {
					return err
				}
				if err := sqlitex.ExecuteTransient(conn, `DROP TABLE `+x.runTable(r.id), nil); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	if err != nil {
		w.abandon()
		return indexRun{}, err
	}
	return w.run, nil
}

func rowLess(a, b indexRow) bool {
	return a.subject < b.subject || a.subject == b.subject && a.id < b.id
}

// mergeDuty paces the background merges: each takes about 1/mergeDuty of
// a core. A merge of the checks index at a million subjects took 4-5 s of
// CPU for 500,000 rows (BenchmarkMergeChecks: 4.8 s for 2,000,000); at
// full speed it took a third of both cores from the checks for several
// seconds.
const mergeDuty = 4

// mergeLoop merges an index whenever its tail reaches threshold rows, and
// whatever is pending after a quiet minute; not while the world loads
// (Load), which start-up waits for and which keeps both cores busy: at
// 10,000,000 records a merge took 2.2 s of CPU from it.
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
		idle = s.mergeDue(ctx, s.MergeThreshold, idle)
	}
}

// mergeDue is a second of mergeLoop: it merges each index whose tail holds
// threshold rows, or any rows after idle quiet seconds, and returns the
// quiet seconds counted from then on. It merges nothing while a Load runs.
func (s *Store) mergeDue(ctx context.Context, threshold, idle int) int {
	if s.loading.Load() > 0 {
		return idle
	}
	idle++
	for _, x := range s.indexes() {
		n := x.pending()
		if n >= threshold || (n > 0 && idle >= 60) {
			began := time.Now()
			rows, err := x.merge(ctx, s, mergeDuty)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Error("index merge failed", "table", x.table, "err", err)
			case err == nil:
				// Paced (mergeDuty): it took about 1/mergeDuty of a core
				// for this long, compactions included.
				took := time.Since(began).Round(time.Millisecond)
				s.mergeMu.Lock()
				runs := len(x.runs)
				s.mergeMu.Unlock()
				s.log.Info("index merged", "table", x.table, "rows", rows, "runs", runs, "took", took)
			}
			idle = 0
		}
	}
	return idle
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
