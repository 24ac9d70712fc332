package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"
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
