// Package sqlite is socred's embedded store: one SQLite database file in WAL
// mode with synchronous=FULL, so that an acknowledged write survives a
// crash.
package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"golang.org/x/sync/errgroup"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of socred.Store.
type Store struct {
	path string
	// w is the single writing connection, used under wmu; r is a pool of
	// query-only readers, which WAL lets run beside the writer.
	w   *sqlite3.Conn
	wi  *interruptible // w's interrupts
	wmu sync.Mutex
	r   *readPool
	log *slog.Logger

	records, checks, accesses, notices *subjectIndex
	// loading counts the Loads running: merges wait for them (mergeLoop).
	loading atomic.Int32
	// xw writes the index file (see subjectIndex); merges, which hold
	// mergeMu, are its only users once the store is open.
	xw       *sqlite3.Conn
	xwi      *interruptible // xw's interrupts
	mergeMu  sync.Mutex
	xwClosed bool // under mergeMu
	// MergeThreshold is how many rows a subject index keeps in memory
	// before merging them to disk.
	MergeThreshold int

	// allowUnsafe lets Open accept durability settings that are off.
	allowUnsafe bool
	// closed is set by Close, under wmu.
	closed bool
	// edge is the audit log's right edge as last committed, under wmu
	// (nil until the first append reads it).
	edge *audit.Edge
	// lmu numbers new rows (reserving ids of checks, accesses and
	// notices) and audit leaves, and appends to the check log; a
	// transaction that commits takes it after wmu. auditNext is the
	// audit log's size with the log's pending groups.
	lmu       sync.Mutex
	auditNext int64
	// clog is the check log (nil for a database in memory, or when
	// noCheckLog is set, as tests do to compare).
	clog       *checkLog
	noCheckLog bool
	// walKick wakes the background checkpointer after a commit (nil when
	// the database is not in WAL mode).
	walKick chan struct{}

	// leads are the leads of records' notices, kept once each
	// (socred.NoticeLeads), read at open.
	leads *socred.NoticeLeads

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NoticeLeads returns the leads the store keeps (socred.LeadKeeper).
func (s *Store) NoticeLeads() *socred.NoticeLeads { return s.leads }

// Option configures Open.
type Option func(*Store)

// WithLogger sets the store's logger.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithAllowUnsafeDurability lets Open accept a database it cannot put in
// WAL mode with synchronous=FULL, with a warning, instead of refusing it.
func WithAllowUnsafeDurability(allow bool) Option { return func(s *Store) { s.allowUnsafe = allow } }

// defaultMergeThreshold is how many rows a subject index keeps in memory
// before merging them to disk. A merge inserts its rows at random places in
// the index's B-tree, and the more rows it brings, the more of them share
// each page it writes: into an index of 5,000,000 checks, a merge of
// 500,000 rows cost 4.0 µs a row, of 2,000,000 rows 2.4 µs, of 4,000,000
// 1.9 µs (BenchmarkMergeChecks). A tail of 2,000,000 rows of a million
// subjects takes about 106 MB of memory.
const defaultMergeThreshold = 2_000_000

// WithMergeThreshold sets how many rows a subject index keeps in memory
// before merging them to disk (default 2,000,000).
func WithMergeThreshold(n int) Option { return func(s *Store) { s.MergeThreshold = n } }

var _ socred.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, applies the
// embedded migrations and checks the schema version.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s := &Store{
		path:           path,
		log:            slog.New(slog.DiscardHandler),
		records:        newSubjectIndex("records"),
		checks:         newSubjectIndex("checks"),
		accesses:       newSubjectIndex("accesses"),
		notices:        newSubjectIndex("notices"),
		MergeThreshold: defaultMergeThreshold,
	}
	for _, o := range opts {
		o(s)
	}
	var err error
	if s.w, err = sqlite3.OpenConn(path, sqlite3.OpenReadWrite|sqlite3.OpenCreate); err != nil {
		return nil, err
	}
	s.wi = newInterruptible(s.w)
	if err := s.openWriter(ctx); err != nil {
		s.w.Close() // #nosec G104 -- already failing; closing the unused connection only frees it
		if s.xw != nil {
			s.xw.Close() // #nosec G104 -- already failing; closing the unused connection only frees it
		}
		return nil, err
	}
	s.r = newReadPool(path, max(4, 2*runtime.GOMAXPROCS(0)))
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.openCheckpointer(bg); err != nil {
		cancel()
		s.r.close()  // #nosec G104 -- already failing; nothing was read
		s.w.Close()  // #nosec G104 -- already failing; closing the unused connection only frees it
		s.xw.Close() // #nosec G104 -- already failing; closing the unused connection only frees it
		return nil, err
	}
	s.wg.Add(1)
	go s.mergeLoop(bg)
	if s.clog != nil {
		s.wg.Add(1)
		go s.drainLoop(bg)
		if !s.clog.ready.Load() {
			s.wg.Add(1)
			go s.prefill(bg)
		}
	}
	return s, nil
}

// openWriter configures the writing connection, checks durability, migrates
// the schema, opens the index file and rebuilds the subject indexes' tails.
func (s *Store) openWriter(ctx context.Context) error {
	s.wi.watch(ctx)
	defer s.wi.unwatch()
	s.w.SetBusyTimeout(busyTimeout)
	// Pages of 16 KiB, set before the database is made (an existing one
	// keeps its own): a commit writes each dirty page to the WAL with two
	// system calls, and ingest dirties mostly appended pages, so larger
	// pages mean fewer calls (about 48,000 records/s with 4 KiB pages, 57,000
	// to 60,000 with 16 or 64 KiB, in BENCHMARKS.md).
	if err := pragmas(s.w, "page_size = 16384", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON", "temp_store = MEMORY", writerCacheSize); err != nil {
		return err
	}
	// Refused before migrating: a refused database is left as it was.
	if err := s.checkDurability(); err != nil {
		return err
	}
	if err := s.migrate(); err != nil {
		return err
	}
	if err := s.loadLeads(); err != nil {
		return err
	}
	// Before the indexes: they read the rows the log's groups add.
	if err := s.openCheckLog(); err != nil {
		return err
	}
	if err := s.openIndex(ctx); err != nil {
		return err
	}
	for _, x := range s.indexes() {
		if err := x.open(s.w, s.xwi); err != nil {
			return err
		}
	}
	if err := s.loadTails(ctx); err != nil {
		return err
	}
	var err error
	if s.auditNext, err = sqlitex.ResultInt64(s.w.Prep(`SELECT value FROM meta WHERE key = 'audit_size'`)); err != nil {
		return fmt.Errorf("sqlite: audit size: %w", err)
	}
	return nil
}

// loadLeads reads the leads of records' notices (socred.NoticeLeads).
func (s *Store) loadLeads() error {
	var kept []socred.NoticeLead
	err := each(s.w.Prep(`SELECT id, lead FROM notice_leads`), func(stmt *sqlite3.Stmt) error {
		kept = append(kept, socred.NoticeLead{Ref: stmt.ColumnInt64(0), Text: stmt.ColumnText(1)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: notice leads: %w", err)
	}
	s.leads = socred.NewNoticeLeads(kept...)
	return nil
}

// loadTails reads every subject index's rows not yet merged into the index
// file into its tail, the indexes at once, each on a read-only connection
// of its own. Nothing writes yet. Read one after another, at 10,000,000
// records, they were millions of rows and several seconds before the world
// could load (BENCHMARKS.md, Start-up).
func (s *Store) loadTails(ctx context.Context) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, x := range s.indexes() {
		g.Go(func() error {
			// A connection of its own with a small cache: the rows are
			// read once, and the pages a reader's cache would keep are
			// hundreds of megabytes of little use to it.
			conn, err := sqlite3.OpenConn(s.path, sqlite3.OpenReadOnly)
			if err != nil {
				return fmt.Errorf("%s index: %w", x.table, err)
			}
			defer conn.Close()
			conn.SetBusyTimeout(busyTimeout)
			conn.SetInterrupt(gctx.Done())
			if err := pragmas(conn, tailCacheSize); err != nil {
				return fmt.Errorf("%s index: %w", x.table, err)
			}
			return x.loadTail(conn)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rows := 0
	for _, x := range s.indexes() {
		rows += x.tail.rows()
	}
	s.log.Info("subject indexes read", "unmerged rows", rows, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

const (
	busyTimeout = 10 * time.Second
	cacheSize   = "cache_size = -131072" // 128 MiB per reading connection
	// The writer's cache is smaller: it writes mostly new pages (appended
	// rows) that it does not read again, and a page cache that grows to
	// 128 MiB allocates and zeroes fresh memory for each of them until it
	// is full. Ingest of 500,000 records with 16 clients: the commits'
	// CPU 3.8 s with 128 MiB, 2.9 s with 16 MiB (BENCHMARKS.md).
	writerCacheSize = "cache_size = -16384" // 16 MiB
	tailCacheSize   = "cache_size = -2048"  // 2 MiB: loadTails reads each page once
)

// pragmas applies connection settings such as "synchronous = FULL".
func pragmas(conn *sqlite3.Conn, settings ...string) error {
	for _, p := range settings {
		if err := sqlitex.ExecuteTransient(conn, "PRAGMA "+p, nil); err != nil {
			return fmt.Errorf("sqlite: pragma %s: %w", p, err)
		}
	}
	return nil
}

var errClosed = errors.New("sqlite: the store is closed")

// Close stops the background merges and closes the database.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	var logErr error
	if s.clog != nil {
		// What is pending goes to the database, so that a clean stop
		// leaves nothing to replay; were it to fail, the files keep it.
		logErr = s.drainLocked(context.Background(), true)
		s.lmu.Lock()
		s.clog.closed = true
		logErr = errors.Join(logErr, s.clog.closeFiles())
		s.lmu.Unlock()
	}
	s.closed = true
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	s.xwClosed = true
	return errors.Join(logErr, s.r.close(), s.xw.Close(), s.w.Close())
}

// write runs fn in an immediate transaction on the writing connection,
// under the store's write lock.
func (s *Store) write(ctx context.Context, fn func(conn *sqlite3.Conn) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(ctx, fn)
}

// writeLocked is write for a caller that holds the write lock.
func (s *Store) writeLocked(ctx context.Context, fn func(conn *sqlite3.Conn) error) (err error) {
	if s.closed {
		return errClosed
	}
	if err := immediate(ctx, s.wi, fn); err != nil {
		return err
	}
	if s.walKick != nil {
		s.wrote()
	}
	return nil
}

// immediate runs fn in an immediate transaction on i's connection, which
// ctx interrupts.
func immediate(ctx context.Context, i *interruptible, fn func(conn *sqlite3.Conn) error) (err error) {
	i.watch(ctx)
	defer i.unwatch()
	conn := i.conn
	end, err := sqlitex.ImmediateTransaction(conn)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer end(&err)
	return fn(conn)
}

// read runs fn in a read transaction on a connection of the read pool, so
// that all of fn's statements see one snapshot.
func (s *Store) read(ctx context.Context, fn func(conn *sqlite3.Conn) error) (err error) {
	ic, err := s.r.take(ctx)
	if err != nil {
		return err
	}
	defer s.r.put(ic)
	defer sqlitex.Transaction(ic.conn)(&err)
	return fn(ic.conn)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, func(conn *sqlite3.Conn) error {
		_, err := sqlitex.ResultInt(conn.Prep("SELECT 1"))
		return err
	})
}

// checkDurability makes sure the write connection runs in WAL mode with
// synchronous=FULL.
func (s *Store) checkDurability() error {
	mode, err := sqlitex.ResultText(s.w.Prep("PRAGMA journal_mode"))
	if err != nil {
		return err
	}
	sync, err := sqlitex.ResultInt(s.w.Prep("PRAGMA synchronous"))
	if err != nil {
		return err
	}
	if mode == "wal" && sync >= 2 {
		return nil
	}
	if !s.allowUnsafe {
		return fmt.Errorf("sqlite: durability is off (journal_mode=%s, synchronous=%d; want wal and FULL=2)", mode, sync)
	}
	s.log.Warn("durability is off, as allowed: an acknowledged write may be lost in a crash", "journal_mode", mode, "synchronous", sync)
	return nil
}

// SchemaVersion is the schema version this build knows.
func SchemaVersion() int {
	n, _ := migrationFiles()
	return len(n)
}

func migrationFiles() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	return names, err
}

// migrate applies the embedded migrations that the database has not seen,
// each in its own transaction, and refuses a database from a newer build.
func (s *Store) migrate() error {
	if err := sqlitex.ExecuteTransient(s.w, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`, nil); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	have, err := sqlitex.ResultInt(s.w.Prep("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	if have > len(names) {
		return fmt.Errorf("sqlite: the database has schema version %d; this build knows only up to %d", have, len(names))
	}
	for i := have; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		if err := s.applyMigration(i+1, strings.TrimPrefix(names[i], "migrations/"), string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
	}
	return nil
}

// applyMigration runs one migration and records it, in one transaction.
func (s *Store) applyMigration(version int, name, body string) (err error) {
	end, err := sqlitex.ImmediateTransaction(s.w)
	if err != nil {
		return err
	}
	defer end(&err)
	if err := sqlitex.ExecuteScript(s.w, body, nil); err != nil {
		return err
	}
	stmt := s.w.Prep("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
	stmt.BindInt64(1, int64(version))
	stmt.BindText(2, name)
	stmt.BindInt64(3, micros(time.Now()))
	return exec(stmt)
}

// exec runs stmt, which returns no rows.
func exec(stmt *sqlite3.Stmt) error {
	_, err := stmt.Step()
	if err != nil {
		return err
	}
	return stmt.Reset()
}

// each steps stmt through its rows, calling fn for every one, and leaves it
// reset.
func each(stmt *sqlite3.Stmt, fn func(stmt *sqlite3.Stmt) error) error {
	for {
		row, err := stmt.Step()
		if err != nil {
			return err // Step has reset stmt
		}
		if !row {
			return stmt.Reset()
		}
		if err := fn(stmt); err != nil {
			stmt.Reset() // #nosec G104 -- fn's error is the one to report; the step before it succeeded, so Reset has none
			return err
		}
	}
}

// bindNullText binds s, or NULL when s is empty.
func bindNullText(stmt *sqlite3.Stmt, param int, s string) {
	if s == "" {
		stmt.BindNull(param)
	} else {
		stmt.BindText(param, s)
	}
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

// bindNullInt binds *n, or NULL when n is nil.
func bindNullInt(stmt *sqlite3.Stmt, param int, n *int64) {
	if n == nil {
		stmt.BindNull(param)
	} else {
		stmt.BindInt64(param, *n)
	}
}

// bindNullMicros binds t as microseconds, or NULL when t is nil.
func bindNullMicros(stmt *sqlite3.Stmt, param int, t *time.Time) {
	if t == nil {
		stmt.BindNull(param)
	} else {
		stmt.BindInt64(param, micros(*t))
	}
}

// columnNullMicros reads a nullable time column.
func columnNullMicros(stmt *sqlite3.Stmt, col int) *time.Time {
	if stmt.ColumnIsNull(col) {
		return nil
	}
	t := fromMicros(stmt.ColumnInt64(col))
	return &t
}

// isConstraint reports whether err is a SQLite constraint violation, by its
// result code.
func isConstraint(err error) bool {
	return sqlite3.ErrCode(err).ToPrimary() == sqlite3.ResultConstraint
}
