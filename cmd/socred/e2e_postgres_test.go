package main_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/socred/socred/postgres/postgrestest"
)

// postgresDB returns the URL of a new, empty schema in the test database,
// or skips the test.
func postgresDB(t *testing.T) string {
	t.Helper()
	return postgrestest.Schema(t, postgrestest.Database(t, "the end-to-end test on PostgreSQL"))
}

// TestZhangStoryPostgres plays the story of TestZhangStory on a server
// whose --db is a PostgreSQL URL, restart included.
func TestZhangStoryPostgres(t *testing.T) {
	playZhangStory(t, postgresDB(t))
}

// The server names its PostgreSQL database in its logs without the
// password.
func TestPostgresPasswordNotLogged(t *testing.T) {
	db := postgresDB(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	pw, ok := u.User.Password()
	if !ok {
		t.Skip("the test database URL has no password to hide")
	}
	s := startServer(t, db)
	s.stop()
	logs := s.logs.String()
	if strings.Contains(logs, ":"+pw+"@") || !strings.Contains(logs, u.Redacted()) {
		t.Errorf("logs show the password or not the redacted URL %s:\n%s", u.Redacted(), logs)
	}
}
