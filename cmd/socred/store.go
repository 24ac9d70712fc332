package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"

	"github.com/socred/socred"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/sqlite"
)

// openStore opens the store db names: PostgreSQL for a postgres:// or
// postgresql:// URL, otherwise the SQLite database file at that path. It
// refuses a database that could lose acknowledged writes in a crash unless
// allowUnsafe is set.
func openStore(ctx context.Context, db string, log *slog.Logger, allowUnsafe bool) (socred.Store, error) {
	if isPostgres(db) {
		s, err := postgres.Open(ctx, db, postgres.WithLogger(log.With("component", "postgres")), postgres.WithAllowUnsafeDurability(allowUnsafe))
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, db, sqlite.WithLogger(log.With("component", "sqlite")), sqlite.WithAllowUnsafeDurability(allowUnsafe))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// displayDB is db as logs and error messages show it: without the password
// of a PostgreSQL URL.
func displayDB(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "the PostgreSQL database" // an unparsable URL may hold a password anywhere
	}
	return u.Redacted()
}
