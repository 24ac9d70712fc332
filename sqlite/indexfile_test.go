package sqlite

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/storetest"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// oldDatabase makes a database at schema version 10, when the subject
// indexes lived in the database itself: records 1-4 of subjects a, b, a,
// a, of which 1-3 are merged into records_by_subject.
func oldDatabase(t *testing.T, path string) {
	t.Helper()
	conn, err := sqlite3.OpenConn(path, sqlite3.OpenReadWrite|sqlite3.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s := &Store{path: path, w: conn}
	if err := pragmas(conn, "page_size = 16384", "journal_mode = WAL", "synchronous = FULL"); err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteTransient(conn, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`, nil); err != nil {
		t.Fatal(err)
	}
	names, err := migrationFiles()
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names[:10] {
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.applyMigration(i+1, filepath.Base(name), string(body)); err != nil {
			t.Fatal(err)
		}
	}
	err = sqlitex.ExecuteScript(conn, `
		INSERT INTO records (id, reporter, key, subject, scheme, rule, points, occurred_at, counts_until, evidence, accepted_at)
		VALUES (1, 'city', 'k1', 'a', 'city', 'red-light', -5, 0, 1, '', 0),
		       (2, 'city', 'k2', 'b', 'city', 'red-light', -5, 0, 1, '', 0),
		       (3, 'city', 'k3', 'a', 'city', 'red-light', -5, 0, 1, '', 0),
		       (4, 'city', 'k4', 'a', 'city', 'red-light', -5, 0, 1, '', 0);
		INSERT INTO records_by_subject (subject, id) VALUES ('a', 1), ('b', 2), ('a', 3);
		UPDATE meta SET value = 3 WHERE key = 'records_indexed';`, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func recordIDs(t *testing.T, s *Store, subject string) []string {
	t.Helper()
	rs, err := s.SubjectRecords(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func count(t testing.TB, conn *sqlite3.Conn, query string) int {
	t.Helper()
	n, err := sqlitex.ResultInt(conn.Prep(query))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A database from before the index file has its subject indexes moved
// into one, with their marks, and dropped from itself.
func TestIndexFileFromOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	oldDatabase(t, path)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := recordIDs(t, s, "a"), []string{"1", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("records of a: got %v, want %v", got, want)
	}
	if got := s.records.pending(); got != 1 {
		t.Errorf("%d records in the tail, want 1 (the mark copied: 1-3 merged)", got)
	}
	if n := count(t, s.w, `SELECT count(*) FROM sqlite_schema WHERE name LIKE '%by_subject%'`); n != 0 {
		t.Errorf("%d subject index tables left in the database", n)
	}
	if n := count(t, s.w, `SELECT count(*) FROM meta WHERE key LIKE '%indexed'`); n != 0 {
		t.Errorf("%d merged marks left in the database", n)
	}
	if n := count(t, s.xw, `SELECT count(*) FROM records_by_subject`); n != 3 {
		t.Errorf("%d rows in the index file's records_by_subject, want 3", n)
	}
}

// An index file that is missing, or made for another database, is rebuilt
// from the database: no subject gains or loses a row.
func TestIndexFileRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fill := func(path, subject string, n int) {
		t.Helper()
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var recs []*socred.Record
		for i := range n {
			recs = append(recs, &socred.Record{ID: itoa64(int64(i + 1)), Key: "k" + itoa64(int64(i+1)), Subject: subject, Scheme: "city",
				Rule: "red-light", Points: -5, Reporter: "city"})
		}
		if err := s.Commit(ctx, &socred.Write{Records: recs}); err != nil {
			t.Fatal(err)
		}
		if err := s.MergeIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	one, other := filepath.Join(dir, "one.db"), filepath.Join(dir, "other.db")
	fill(one, "b", 3)
	fill(other, "a", 3)
	// other's index file, put beside one.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(indexPath(one) + suffix)
		if b, err := os.ReadFile(indexPath(other) + suffix); err == nil {
			if err := os.WriteFile(indexPath(one)+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err := Open(ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	if got := recordIDs(t, s, "a"); len(got) != 0 {
		t.Errorf("with another database's index file: records of a %v, want none", got)
	}
	if got, want := recordIDs(t, s, "b"), []string{"1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("with another database's index file: records of b %v, want %v", got, want)
	}
	s.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(indexPath(other) + suffix)
	}
	s, err = Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := recordIDs(t, s, "a"), []string{"1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("without its index file: records of a %v, want %v", got, want)
	}
}

// A merge writes the index file only: while one is in the middle of a
// transaction, the database takes writes (in one file, a merge held its
// writer and every check waited).
func TestMergeLeavesTheWriterFree(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inMerge, release := make(chan struct{}), make(chan struct{})
	merged := make(chan error, 1)
	go func() {
		s.mergeMu.Lock()
		defer s.mergeMu.Unlock()
		merged <- s.indexWrite(ctx, func(*sqlite3.Conn) error {
			close(inMerge)
			<-release
			return nil
		})
	}()
	<-inMerge
	committed := make(chan error, 1)
	go func() {
		committed <- s.Commit(ctx, &socred.Write{Records: []*socred.Record{{ID: "1", Key: "k1", Subject: "a", Scheme: "city",
			Rule: "red-light", Points: -5, Reporter: "city"}}})
	}()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a commit waited 5 s for a merge in progress")
	}
	close(release)
	if err := <-merged; err != nil {
		t.Fatal(err)
	}
	if got := recordIDs(t, s, "a"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("records of a: %v, want [1]", got)
	}
}

// A merge swaps the tail out: rows committed while it runs go to a new
// tail, reads see the rows being merged, and a merge that fails leaves
// them to the next merge, which writes them before the new tail's.
func TestMergeSwapsTheTail(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t)
	x := s.checks
	ids := func(subject string) []int64 {
		t.Helper()
		return indexIDs(t, s, x, subject)
	}
	onDisk := func() int64 {
		t.Helper()
		return int64(indexRows(t, s.xw, "checks", ""))
	}
	x.add([]string{"b", "a", "b"}, []int64{1, 2, 3})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.merge(canceled, s, 1); err == nil {
		t.Fatal("a merge with its context canceled succeeded")
	}
	if x.pending() != 0 || x.merging == nil || x.merging.subjects() != 2 {
		t.Fatalf("after a failed merge: %d pending, %v being merged; want 0 and 2 subjects", x.pending(), x.merging)
	}
	x.add([]string{"a", "c"}, []int64{4, 5})
	if got := ids("a"); !slices.Equal(got, []int64{2, 4}) {
		t.Errorf("a: %v, want [2 4] from the rows being merged and the tail", got)
	}
	if n, err := x.merge(ctx, s, 1); err != nil || n != 3 {
		t.Fatalf("second merge: %d rows, %v; want the 3 left by the failed one", n, err)
	}
	if onDisk() != 3 || x.merged != 3 || x.pending() != 2 || x.merging != nil {
		t.Fatalf("after it: %d rows on disk, merged up to %d, %d pending; want 3, 3, 2", onDisk(), x.merged, x.pending())
	}
	if n, err := x.merge(ctx, s, 1); err != nil || n != 2 {
		t.Fatalf("third merge: %d rows, %v; want the tail's 2", n, err)
	}
	for subject, want := range map[string][]int64{"a": {2, 4}, "b": {1, 3}, "c": {5}} {
		if got := ids(subject); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", subject, got, want)
		}
	}
	if onDisk() != 5 || x.merged != 5 {
		t.Errorf("%d rows on disk, merged up to %d; want 5 and 5", onDisk(), x.merged)
	}
}

// A paced merge rests between its chunks; the store closing (its context
// ending) in a rest stops it at once, with the rows it has not finished
// left to the next merge.
func TestPacedMergeStops(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t)
	x := s.checks
	const n = 50_000 // three chunks
	subjects, ids := make([]string, n), make([]int64, n)
	for i := range n {
		subjects[i], ids[i] = "s"+strconv.Itoa(i%1000), int64(i+1)
	}
	x.add(subjects, ids)
	// A duty so large that the first rest outlasts the test: only the
	// context ending can end it.
	paced, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := x.merge(paced, s, 1_000_000)
		done <- err
	}()
	onDisk := func() int64 {
		t.Helper()
		var n int
		err := s.read(ctx, func(conn *sqlite3.Conn) error {
			n = indexRows(t, conn, "checks", "idx.")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	// Wait until the first chunk is on disk: the merge rests now, and
	// writes nothing more while it does.
	for deadline := time.Now().Add(10 * time.Second); onDisk() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no chunk of the merge on disk after 10 s")
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got := onDisk(); got != 20_000 {
		t.Fatalf("%d rows on disk 300 ms after the first chunk; want its 20,000 alone, the merge resting", got)
	}
	select {
	case err := <-done:
		t.Fatalf("the paced merge ended before its context did: %v", err)
	default:
	}
	stop()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a paced merge whose context ended succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a paced merge went on resting 10 s after its context ended")
	}
	if m, err := x.merge(ctx, s, 1); err != nil || m != n {
		t.Fatalf("the next merge: %d rows, %v; want %d", m, err, n)
	}
	if got := x.merged; got != n {
		t.Errorf("merged up to %d, want %d", got, n)
	}
}

// indexIDs reads a subject's ids from index x in a read transaction of
// their own.
func indexIDs(t testing.TB, s *Store, x *subjectIndex, subject string) []int64 {
	t.Helper()
	var out []int64
	err := s.read(context.Background(), func(conn *sqlite3.Conn) (err error) {
		out, err = x.ids(conn, subject)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// indexRows counts the ids of every table of table's subject index in the
// index file (schema "" on its own connection, "idx." where attached),
// runs listed or being written: a row each in a run of rows, and those
// its rows' blobs hold in a packed one.
func indexRows(t testing.TB, conn *sqlite3.Conn, table, schema string) int {
	t.Helper()
	var names []string
	stmt := conn.Prep(`SELECT name FROM ` + schema + `sqlite_schema WHERE type = 'table' AND name LIKE ? ESCAPE '\'`)
	stmt.BindText(1, strings.ReplaceAll(table, "_", `\_`)+`\_by\_subject%`)
	if err := each(stmt, func(stmt *sqlite3.Stmt) error {
		names = append(names, stmt.ColumnText(0))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if count(t, conn, `SELECT COUNT(*) FROM `+schema+`pragma_table_info('`+name+`') WHERE name = 'ids'`) == 0 {
			n += count(t, conn, `SELECT COUNT(*) FROM `+schema+name)
			continue
		}
		err := each(conn.Prep(`SELECT ids FROM `+schema+name), func(stmt *sqlite3.Stmt) error {
			blob := make([]byte, stmt.ColumnLen(0))
			stmt.ColumnBytes(0, blob)
			ids, err := unpackIDs(nil, blob)
			n += len(ids)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// openUnmerged opens a store in a temporary directory that never merges its
// subject indexes by itself: the test merges them.
func openUnmerged(tb testing.TB) *Store {
	tb.Helper()
	return openUnmergedAt(tb, filepath.Join(tb.TempDir(), "socred.db"))
}

// openUnmergedAt is openUnmerged of the store at path.
func openUnmergedAt(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, WithMergeThreshold(1<<40))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() }) // #nosec G104 -- a test's store; closing only frees it (twice is harmless)
	return s
}

// reopenUnmerged closes s and opens the store at path again, merging
// nothing.
func reopenUnmerged(tb testing.TB, s *Store, path string) *Store {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return openUnmergedAt(tb, path)
}

// A tail gives each subject's ids in the order added, as a map of slices
// would, for subjects added to in any interleaving, across its chunks, in
// batches of one row to more than a lookup's, which name a subject new to
// the tail more than once; its subjects come sorted with the ids of each.
func TestTailMatchesAMapOfSlices(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tl, want := newTail(0), map[string][]int64{}
	const rows = 3*tailChunk + 17
	for id := int64(1); id <= rows; {
		n := 1 + rng.IntN(600)
		var subjects []string
		var ids []int64
		for ; n > 0 && id <= rows; n, id = n-1, id+1 {
			s := "s" + strconv.Itoa(rng.IntN(300+int(id)/4))
			subjects, ids = append(subjects, s), append(ids, id)
			want[s] = append(want[s], id)
		}
		tl.addAll(subjects, ids)
	}
	if tl.rows() != rows || tl.subjects() != len(want) {
		t.Fatalf("%d rows of %d subjects, want %d of %d", tl.rows(), tl.subjects(), rows, len(want))
	}
	for s, ids := range want {
		if got := tl.appendIDs([]int64{-1}, s); !slices.Equal(got[1:], ids) || got[0] != -1 {
			t.Fatalf("%s: %v, want -1 then %v", s, got, ids)
		}
	}
	if got := tl.appendIDs(nil, "nobody"); got != nil {
		t.Errorf("a subject never added: %v", got)
	}
	sorted := tl.sorted()
	if !slices.IsSortedFunc(sorted, func(a, b tailSubject) int { return strings.Compare(a.subject, b.subject) }) || len(sorted) != len(want) {
		t.Fatalf("sorted: %d subjects, in order %v; want %d in order", len(sorted), slices.IsSortedFunc(sorted, func(a, b tailSubject) int { return strings.Compare(a.subject, b.subject) }), len(want))
	}
	for _, s := range sorted {
		if got := tl.appendSlot(nil, s.slot); !slices.Equal(got, want[s.subject]) {
			t.Fatalf("sorted %s: %v, want %v", s.subject, got, want[s.subject])
		}
	}
}

// A store opened on rows not yet merged reads them into its tails, a
// batch at a time: every subject has its rows, in order, however the
// batches cut them.
func TestTailReadAtStart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	s := openUnmergedAt(t, path)
	want := map[string][]string{}
	const rows = 3*256 + 5
	var recs []*socred.Record
	for i := range rows {
		id := itoa64(int64(i + 1))
		subject := "subject-" + strconv.Itoa(i*i%37)
		recs = append(recs, &socred.Record{ID: id, Key: "k" + id, Subject: subject, Scheme: "city", Rule: "red-light", Points: -5, Reporter: "city"})
		want[subject] = append(want[subject], id)
	}
	if err := s.Commit(ctx, &socred.Write{Records: recs}); err != nil {
		t.Fatal(err)
	}
	s = reopenUnmerged(t, s, path)
	if got := s.records.pending(); got != rows {
		t.Fatalf("%d records in the tail, want %d", got, rows)
	}
	for subject, ids := range want {
		if got := recordIDs(t, s, subject); !slices.Equal(got, ids) {
			t.Errorf("records of %s: got %v, want %v", subject, got, ids)
		}
	}
}

// While the world loads, the merge loop merges nothing, however full a
// tail; once the load is done, it merges as before. Load counts itself
// while its loader runs.
func TestNoMergeWhileLoading(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t)
	s.records.add([]string{"a", "b"}, []int64{1, 2})
	s.loading.Add(1)
	if idle := s.mergeDue(ctx, 1, 0); idle != 0 || s.records.pending() != 2 {
		t.Fatalf("during a load: %d rows pending, %d quiet seconds; want 2 and 0", s.records.pending(), idle)
	}
	s.loading.Add(-1)
	if s.mergeDue(ctx, 1, 0); s.records.pending() != 0 {
		t.Fatalf("after the load: %d rows pending, want 0", s.records.pending())
	}
	l := &loadWatcher{s: s}
	if err := s.Load(ctx, l); err != nil {
		t.Fatal(err)
	}
	if l.seen != 1 || s.loading.Load() != 0 {
		t.Errorf("Load counted %d loads while its loader ran, %d after; want 1 and 0", l.seen, s.loading.Load())
	}
}

// loadWatcher is a loader that notes how many loads its store counts when
// it is given the settled time, which every Load gives.
type loadWatcher struct {
	storetest.CountingLoader
	s    *Store
	seen int32
}

func (l *loadWatcher) Settled(time.Time, int64) error {
	l.seen = l.s.loading.Load()
	return nil
}

// Each merge writes a run of its own, and runFanIn runs of one size are
// merged into one: a subject's ids read the same before and after, every
// row is on disk once, and the merged runs' tables are gone.
func TestMergeCompactsRuns(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t)
	x := s.checks
	want := map[string][]int64{}
	next := int64(1)
	mergeOne := func(rows int) {
		t.Helper()
		subjects, ids := make([]string, rows), make([]int64, rows)
		for i := range rows {
			subjects[i], ids[i] = "s"+strconv.Itoa(int(next*7%13)), next
			want[subjects[i]] = append(want[subjects[i]], next)
			next++
		}
		x.add(subjects, ids)
		if n, err := x.merge(ctx, s, 1); err != nil || n != rows {
			t.Fatalf("merge: %d rows, %v; want %d", n, err, rows)
		}
	}
	check := func(runs int) {
		t.Helper()
		if len(x.runs) != runs {
			t.Errorf("%d runs %v, want %d", len(x.runs), x.runs, runs)
		}
		listed := count(t, s.xw, `SELECT COUNT(*) FROM runs WHERE tbl = 'checks'`)
		if listed != len(x.runs) {
			t.Errorf("%d runs listed in the index file, %d in memory", listed, len(x.runs))
		}
		if got := indexRows(t, s.xw, "checks", ""); got != int(next-1) {
			t.Errorf("%d rows in the index's tables, want %d (each once)", got, next-1)
		}
		for subject, ids := range want {
			if got := indexIDs(t, s, x, subject); !slices.Equal(got, ids) {
				t.Errorf("%s: %v, want %v", subject, got, ids)
			}
		}
		// The reading connection has let go of the statements of the runs
		// dropped: preparing one again finds no table.
		err := s.read(ctx, func(conn *sqlite3.Conn) error {
			if _, err := x.ids(conn, "s1"); err != nil {
				return err
			}
			for _, run := range x.dropped {
				for _, packed := range []bool{true, false} {
					if stmt, err := conn.Prepare(x.runQuery(indexRun{id: run, packed: packed})); err == nil {
						stmt.Finalize()
						t.Errorf("the statement of run %d, dropped, is still cached", run)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range runFanIn - 1 {
		mergeOne(10 + i)
	}
	check(runFanIn - 1)
	mergeOne(5)
	check(1) // four runs of level 0 merged into one
	if len(x.dropped) != runFanIn {
		t.Errorf("runs dropped %v, want %d", x.dropped, runFanIn)
	}
	for range runFanIn - 1 {
		mergeOne(7)
	}
	check(1)          // ... and again, with the first
	mergeOne(100_000) // a run of level 1: not merged with the one of level 0
	check(2)
	if lv := runLevel(x.runs[1].rows); lv != 1 || runLevel(x.runs[0].rows) != 0 {
		t.Errorf("levels %d and %d, want 0 and 1", runLevel(x.runs[0].rows), lv)
	}
}

// The table of a merge cut short (not listed in runs) is dropped when the
// store opens, and its rows are read from the database's tail instead.
func TestMergeCutShortDropped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	s := openUnmergedAt(t, path)
	var recs []*socred.Record
	for i := range 5 {
		recs = append(recs, &socred.Record{ID: itoa64(int64(i + 1)), Key: "k" + itoa64(int64(i+1)), Subject: "a", Scheme: "city",
			Rule: "red-light", Points: -5, Reporter: "city"})
	}
	if err := s.Commit(ctx, &socred.Write{Records: recs}); err != nil {
		t.Fatal(err)
	}
	// A run written and never listed, as a crash in the middle of a merge
	// leaves it.
	err := s.indexWrite(ctx, func(conn *sqlite3.Conn) error {
		return sqlitex.ExecuteScript(conn, `CREATE TABLE records_by_subject_7 (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
INSERT INTO records_by_subject_7 VALUES ('a', 1), ('a', 2), ('b', 99);`, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s = reopenUnmerged(t, s, path)
	if n := count(t, s.xw, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'records_by_subject_7'`); n != 0 {
		t.Error("the run of a merge cut short is still there")
	}
	if s.records.nextRun != 8 {
		t.Errorf("next run %d, want 8 (after the one dropped)", s.records.nextRun)
	}
	if got, want := recordIDs(t, s, "a"), []string{"1", "2", "3", "4", "5"}; !slices.Equal(got, want) {
		t.Errorf("records of a %v, want %v", got, want)
	}
	if err := s.MergeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := recordIDs(t, s, "a"), []string{"1", "2", "3", "4", "5"}; !slices.Equal(got, want) {
		t.Errorf("after a merge: records of a %v, want %v", got, want)
	}
}

// A read takes the runs from its own snapshot: one that began before a
// compaction dropped runs reads the dropped runs' tables, as they were in
// it, and finds the same ids (a list taken from memory would name the new
// run, which its snapshot does not hold).
func TestReadSeesTheRunsOfItsSnapshot(t *testing.T) {
	ctx := context.Background()
	s := openUnmerged(t)
	x := s.checks
	for i := range runFanIn - 1 {
		x.add([]string{"a", "b"}, []int64{int64(2*i + 1), int64(2*i + 2)})
		if _, err := x.merge(ctx, s, 1); err != nil {
			t.Fatal(err)
		}
	}
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		// The snapshot of the index file begins here, with three runs.
		if n := count(t, conn, `SELECT COUNT(*) FROM idx.runs WHERE tbl = 'checks'`); n != runFanIn-1 {
			t.Fatalf("%d runs, want %d", n, runFanIn-1)
		}
		x.add([]string{"c"}, []int64{99})
		if _, err := x.merge(ctx, s, 1); err != nil {
			return err
		}
		if len(x.runs) != 1 || len(x.dropped) != runFanIn {
			t.Fatalf("runs %v, dropped %v; want the four merged into one", x.runs, x.dropped)
		}
		got, err := x.ids(conn, "a")
		if err != nil {
			return err
		}
		if want := []int64{1, 3, 5}; !slices.Equal(got, want) {
			t.Errorf("a in the snapshot before the compaction: %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := indexIDs(t, s, x, "a"), []int64{1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("a after the compaction: %v, want %v", got, want)
	}
	if got, want := indexIDs(t, s, x, "c"), []int64{99}; !slices.Equal(got, want) {
		t.Errorf("c after the compaction: %v, want %v", got, want)
	}
}

// unpackRuns rewrites every run of x's index as the builds before packed
// runs wrote them, a row an id, in an index file as they left it: its
// table runs without the column packed. The store is closed.
func unpackRuns(t *testing.T, path string, x *subjectIndex) {
	t.Helper()
	conn, err := sqlite3.OpenConn(indexPath(path), sqlite3.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var runs []int64
	stmt := conn.Prep(`SELECT run FROM runs WHERE tbl = ? AND packed <> 0`)
	stmt.BindText(1, x.table)
	if err := each(stmt, func(stmt *sqlite3.Stmt) error { runs = append(runs, stmt.ColumnInt64(0)); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		name := x.runTable(run)
		var rows []indexRow
		err := each(conn.Prep(`SELECT subject, ids FROM `+name), func(stmt *sqlite3.Stmt) error {
			blob := make([]byte, stmt.ColumnLen(1))
			stmt.ColumnBytes(1, blob)
			ids, err := unpackIDs(nil, blob)
			for _, id := range ids {
				rows = append(rows, indexRow{stmt.ColumnText(0), id})
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		script := `DROP TABLE ` + name + `; CREATE TABLE ` + name + ` (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;`
		if err := sqlitex.ExecuteScript(conn, script, nil); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			stmt := conn.Prep(`INSERT INTO ` + name + ` (subject, id) VALUES (?, ?)`)
			stmt.BindText(1, r.subject)
			stmt.BindInt64(2, r.id)
			if err := exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sqlitex.ExecuteTransient(conn, `ALTER TABLE runs DROP COLUMN packed`, nil); err != nil {
		t.Fatal(err)
	}
}

// Runs written a row an id, by the builds before packed runs, are read as
// they are, and a compaction merges them with packed ones into a packed
// run holding every id once, but the expired.
func TestRunsOfRowsReadAndCompacted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	s := openUnmergedAt(t, path)
	want := map[string][]int64{}
	next := int64(1)
	add := func(n int) {
		var subjects []string
		var ids []int64
		for range n {
			subject := "s" + strconv.Itoa(int(next*7)%13)
			subjects, ids = append(subjects, subject), append(ids, next)
			want[subject] = append(want[subject], next)
			next++
		}
		s.checks.add(subjects, ids)
		if _, err := s.checks.merge(ctx, s, 1); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for subject, ids := range want {
			if got := indexIDs(t, s, s.checks, subject); !slices.Equal(got, ids) {
				t.Errorf("%s: %s: %v, want %v", when, subject, got, ids)
			}
		}
	}
	for range runFanIn - 1 {
		add(100)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	unpackRuns(t, path, s.checks)
	s = openUnmergedAt(t, path)
	for _, r := range s.checks.runs {
		if r.packed {
			t.Fatalf("run %d packed after unpackRuns", r.id)
		}
	}
	check("runs of rows")
	// The checks up to 50 expire; the last run of the level, packed,
	// makes the runs compactable.
	s.checks.expire(50)
	for subject, ids := range want {
		want[subject] = slices.DeleteFunc(ids, func(id int64) bool { return id <= 50 })
	}
	add(100)
	if len(s.checks.runs) != 1 || !s.checks.runs[0].packed || s.checks.runs[0].rows != 350 {
		t.Fatalf("runs after the compaction: %+v, want one packed run of 350 ids", s.checks.runs)
	}
	check("compacted")
	if got := indexRows(t, s.xw, "checks", ""); got != 350 {
		t.Errorf("%d ids in the index's runs, want 350", got)
	}
	s = reopenUnmerged(t, s, path)
	check("reopened")
}

// A packed run's blob gives back the ids packed, and a blob that is not
// one (a varint cut short; distances that add up past the largest id) is
// an error, not ids.
func TestPackIDs(t *testing.T) {
	for _, ids := range [][]int64{{1}, {1, 2, 3}, {5, 300, 70_000, 1 << 40, 1<<63 - 1}} {
		got, err := unpackIDs([]int64{-1}, packIDs(nil, ids))
		if err != nil || !slices.Equal(got, append([]int64{-1}, ids...)) {
			t.Errorf("%v read back as %v, %v", ids, got, err)
		}
	}
	half := packIDs(nil, []int64{1 << 62})
	for _, blob := range [][]byte{{0x80}, append(slices.Clone(half), half...)} {
		if ids, err := unpackIDs(nil, blob); err == nil {
			t.Errorf("blob %x read as %v, want an error", blob, ids)
		}
	}
}
