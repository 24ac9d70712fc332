package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

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

// runningLockKey is the SQL of the advisory lock key that every open store
// holds shared for as long as it is open (holdRunningLock), and that a
// migration takes exclusively: one key a schema, so that stores in
// different schemas of one database (as the tests make) do not meet.
const runningLockKey = `hashtextextended('socred running in ' || current_schema(), 0)`

// migrationLock is the pg_advisory_xact_lock key that makes servers starting
// at once on one database migrate it one after the other ("socred" in
// ASCII).
const migrationLock int64 = 0x736f63726564

// migrate applies the embedded migrations the database has not seen, and
// records them, in one transaction under the migration lock; it refuses a
// database from a newer build.
func (s *Store) migrate(ctx context.Context) error {
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if have > len(names) {
		return fmt.Errorf("postgres: the database has schema version %d; this build knows only up to %d: run a newer socred", have, len(names))
	}
	if have < len(names) {
		// Servers of the build before run on the schema they know (each
		// holds the running lock shared while its store is open): they
		// would read and write the new schema as the old one.
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(`+runningLockKey+`)`).Scan(&free); err != nil {
			return fmt.Errorf("postgres: migrate: running lock: %w", err)
		}
		if !free {
			return fmt.Errorf("postgres: %s on this database at schema version %d; this build would migrate it to %d: stop them first, then start the servers of this build (servers of builds across schema versions do not run side by side)",
				runningServers(ctx, tx), have, len(names))
		}
	}
	for i := have; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		name := path.Base(names[i])
		// Without arguments pgx sends the script as one simple query, so
		// it may hold many statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			i+1, name, micros(time.Now())); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		s.log.Info("applied migration", "version", i+1, "name", name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// holdRunningLock takes the running lock shared on a connection of the
// store's own, held until Close, and then checks that the schema is still
// the one this build knows: a newer build may have migrated it between
// migrate and the lock, and cannot once the lock is held.
func (s *Store) holdRunningLock(ctx context.Context) (err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: running lock: %w", err)
	}
	conn := pc.Hijack()
	defer func() {
		if err != nil {
			_ = conn.Close(ctx) // the lock, if taken, ends with the session
		}
	}()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared(`+runningLockKey+`)`); err != nil {
		return fmt.Errorf("postgres: running lock: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	if want := SchemaVersion(); have != want {
		return fmt.Errorf("postgres: the database has schema version %d; this build knows %d: run the build that migrated it: %w", have, want, errSchemaMoved)
	}
	if s.running != nil {
		_ = s.running.Close(ctx) // broken already: what it held went with it
	}
	s.running = conn
	return nil
}

// errSchemaMoved says that the database's schema is no longer the one this
// build knows.
var errSchemaMoved = errors.New("another build migrated the database")

// keepRunningLock holds the running lock for as long as the store is open,
// until ctx ends. A broken connection (PostgreSQL restarted) loses it: the
// lock is taken again on a new one, and if the schema has moved meanwhile
// every query fails from then on (Open's PrepareConn), rather than read
// and write the new schema as the old.
func (s *Store) keepRunningLock(ctx context.Context) {
	defer close(s.runningDone)
	for {
		// Nothing LISTENs on the connection: the wait ends when it breaks.
		_, err := s.running.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("the connection holding the running lock broke; taking the lock again", "err", err)
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			err := s.holdRunningLock(ctx)
			if err == nil {
				break
			}
			if errors.Is(err, errSchemaMoved) {
				s.log.Error("the database was migrated while this server ran: it reads and writes nothing more; restart it with the build that migrated it", "err", err)
				s.schemaMoved.Store(true)
				return
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("taking the running lock again failed; retrying", "err", err, "in", backoff)
		}
	}
}

// runningLockHolders is the FROM and WHERE of the running lock's holders
// in pg_locks, where a bigint advisory key shows as its high and low 32
// bits.
const runningLockHolders = `FROM pg_locks, (SELECT ` + runningLockKey + ` AS key) k
	WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND classid = ((k.key >> 32) & 4294967295)::oid AND objid = (k.key & 4294967295)::oid AND objsubid = 1`

// runningServers says how many stores hold the running lock, as a phrase
// ("2 socred servers of an earlier build are running"), for the refusal to
// migrate.
func runningServers(ctx context.Context, tx pgx.Tx) string {
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) `+runningLockHolders).Scan(&n)
	switch {
	case err != nil || n == 0:
		return "socred servers of an earlier build are running" // the lock says so, the count did not
	case n == 1:
		return "1 socred server of an earlier build is running"
	default:
		return fmt.Sprintf("%d socred servers of an earlier build are running", n)
	}
}
