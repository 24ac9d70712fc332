// Package sqlite is socred's embedded store: one SQLite database file in WAL
// mode with synchronous=FULL, so that an acknowledged write survives a
// crash.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of socred.Store.
type Store struct {
	path string
	// w is the single writing connection; r is a pool of readers, which
	// WAL lets run beside the writer.
	w, r *sql.DB
	wmu  sync.Mutex
	log  *slog.Logger

	records, checks, accesses *subjectIndex
	// MergeThreshold is how many rows a subject index keeps in memory
	// before merging them to disk.
	MergeThreshold int

	// allowUnsafe lets Open accept durability settings that are off.
	allowUnsafe bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the store's logger.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithMergeThreshold sets how many rows a subject index keeps in memory
// before merging them to disk (default 500,000).
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
		MergeThreshold: 500_000,
	}
	for _, o := range opts {
		o(s)
	}
	dsn := func(readonly bool) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(ON)")
		q.Add("_pragma", "cache_size(-131072)") // 128 MiB per connection
		q.Add("_txlock", "immediate")
		if readonly {
			q.Add("_pragma", "query_only(ON)")
		}
		return "file:" + path + "?" + q.Encode()
	}
	var err error
	if s.w, err = sql.Open("sqlite", dsn(false)); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetConnMaxLifetime(0)
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	if err := s.checkDurability(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	for _, x := range s.indexes() {
		if err := x.open(ctx, s.w); err != nil {
			s.w.Close()
			return nil, err
		}
	}
	if s.r, err = sql.Open("sqlite", dsn(true)); err != nil {
		s.w.Close()
		return nil, err
	}
	s.r.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)))
	s.r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.mergeLoop(bg)
	return s, nil
}

// Close stops the background merges and closes the database.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in a write transaction under the store's write lock.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

// checkDurability makes sure the write connection runs in WAL mode with
// synchronous=FULL.
func (s *Store) checkDurability(ctx context.Context) error {
	var mode string
	var sync int
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if (mode != "wal" || sync < 2) && !s.allowUnsafe {
		return fmt.Errorf("sqlite: durability is off (journal_mode=%s, synchronous=%d; want wal and FULL=2)", mode, sync)
	}
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
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := s.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&have); err != nil {
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
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			i+1, strings.TrimPrefix(names[i], "migrations/"), micros(time.Now())); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// isConstraint reports whether err is a SQLite constraint violation, by its
// result code.
func isConstraint(err error) bool {
	var se *sqlite3.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3lib.SQLITE_CONSTRAINT
}

func itoa(n int) string { return strconv.Itoa(n) }
