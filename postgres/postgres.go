// Package postgres is socred's PostgreSQL store, on a pgx connection pool.
// Each public method is one transaction; record, check and access rows are
// written with COPY.
package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/socred/socred"
	"github.com/socred/socred/audit"
)

// Store is the PostgreSQL implementation of socred.Store.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// allowUnsafe lets Open accept durability settings that are off.
	allowUnsafe bool

	mu sync.Mutex
	// edge is the audit log's right edge as this store last committed it,
	// under mu (nil until its first append). Other servers may have
	// appended since: an append uses it only at the size it locks.
	edge *audit.Edge

	// claimer names this store in the notices it claims for delivery
	// (PendingNotices), for lease.
	claimer string
	lease   time.Duration

	// running holds the running lock shared while the store is open
	// (holdRunningLock), kept by keepRunningLock until Close stops it.
	running     *pgx.Conn
	stopRunning context.CancelFunc
	runningDone chan struct{}
	// schemaMoved says that another build migrated the database while the
	// store was open: the pool refuses every query.
	schemaMoved atomic.Bool
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the store's logger.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithAllowUnsafeDurability lets Open accept a server or session with fsync
// or synchronous_commit off, with a warning, instead of refusing it.
func WithAllowUnsafeDurability(allow bool) Option { return func(s *Store) { s.allowUnsafe = allow } }

var _ socred.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user:password@host/db;
// pgx's parameters such as pool_max_conns and runtime parameters such as
// search_path may be given as query parameters), checks durability, applies
// the embedded migrations and checks the schema version.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{log: slog.New(slog.DiscardHandler), claimer: rand.Text(), lease: socred.NoticeLease}
	for _, o := range opts {
		o(s)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // the error hides the password
	}
	// Once another build has migrated the database under this store, no
	// query runs: it would read and write the new schema as the old.
	cfg.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) {
		if s.schemaMoved.Load() {
			return true, fmt.Errorf("postgres: %w: restart this server with the build that migrated it", errSchemaMoved)
		}
		return true, nil
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Refused before migrating: a refused database is left as it was.
	if err := s.checkDurability(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	if err := s.holdRunningLock(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	var keep context.Context
	keep, s.stopRunning = context.WithCancel(context.Background())
	s.runningDone = make(chan struct{})
	go s.keepRunningLock(keep)
	return s, nil
}

// checkDurability refuses a server or session that acknowledges commits
// before they are on disk. Settings a database does not have (CockroachDB
// has no fsync) read as NULL and pass.
func (s *Store) checkDurability(ctx context.Context) error {
	var fsync, syncCommit *string
	err := s.pool.QueryRow(ctx, `SELECT current_setting('fsync', true), current_setting('synchronous_commit', true)`).
		Scan(&fsync, &syncCommit)
	if err != nil {
		return fmt.Errorf("postgres: durability settings: %w", err)
	}
	if (fsync != nil && *fsync == "off") || (syncCommit != nil && *syncCommit == "off") {
		if s.allowUnsafe {
			s.log.Warn("durability is off, as allowed: an acknowledged write may be lost in a crash", "fsync", deref(fsync), "synchronous_commit", deref(syncCommit))
			return nil
		}
		return fmt.Errorf("postgres: durability is off (fsync=%s, synchronous_commit=%s; want both on): an acknowledged write could be lost in a crash",
			deref(fsync), deref(syncCommit))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

// Close closes the pool's connections, waiting for those in use.
func (s *Store) Close() error {
	// The notices this store claimed and did not deliver go back to the
	// other servers at once, rather than when the lease ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE notices SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND pending`, s.claimer)
	s.stopRunning()
	<-s.runningDone
	if s.running != nil {
		pid := s.running.PgConn().PID()
		_ = s.running.Close(ctx) // the session's end releases the running lock, whatever Close says
		s.awaitSessionEnd(ctx, pid)
	}
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("release notices: %w", err)
	}
	return nil
}

// awaitSessionEnd waits, until ctx ends, for the server to end the session
// of backend pid, which held the running lock: closing a connection only
// tells the server, which ends the session and its locks a moment later,
// and a server of the next build started just after Close returns would
// otherwise still find this one running and refuse to migrate.
func (s *Store) awaitSessionEnd(ctx context.Context, pid uint32) {
	for {
		var held bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory')`, pid).Scan(&held)
		if err != nil || !held {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

// nullMicros is t in microseconds, or NULL when t is nil.
func nullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	n := micros(*t)
	return &n
}

// timeOrNil reads a nullable time column.
func timeOrNil(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := fromMicros(*n)
	return &t
}

// nullText is s, or NULL when s is empty.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
