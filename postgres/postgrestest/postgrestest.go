// Package postgrestest gives tests an empty PostgreSQL schema of their own
// in the database named by the environment variable SOCRED_TEST_POSTGRES.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the test database's URL.
const EnvURL = "SOCRED_TEST_POSTGRES"

// Database returns the test database's URL. Without SOCRED_TEST_POSTGRES it
// skips the test, saying that what (such as "the PostgreSQL conformance
// suite") needs a database.
func Database(tb testing.TB, what string) string {
	tb.Helper()
	db := os.Getenv(EnvURL)
	if db == "" {
		tb.Skip(EnvURL + " is not set: " + what + " needs a database URL; .ci/run sets it")
	}
	return db
}

// Schema creates a new, empty schema in the database at db and returns db's
// URL with search_path set to it, so that everything a store creates and
// reads lands there. The schema is dropped when the test ends.
func Schema(tb testing.TB, db string) string {
	tb.Helper()
	u, err := url.Parse(db)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "socred_test_" + hex.EncodeToString(b)
	Exec(tb, db, `CREATE SCHEMA `+schema)
	tb.Cleanup(func() { Exec(tb, db, `DROP SCHEMA `+schema+` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema) // pgx passes parameters it does not know on to the server
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs sql, which may hold several statements, on a connection of its
// own to the database at db.
func Exec(tb testing.TB, db, sql string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
