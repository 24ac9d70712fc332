package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/sqlite"
	"github.com/socred/socred/storetest"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

var ctx = context.Background()

func mustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// mustExec runs query on the database at path behind the store's back,
// calling row for every row it returns.
func mustExec(tb testing.TB, path, query string, row func(*sqlite3.Stmt) error) {
	tb.Helper()
	conn, err := sqlite3.OpenConn(path, sqlite3.OpenReadWrite)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	if err := sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{ResultFunc: row}); err != nil {
		tb.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) socred.Store { return mustOpen(t, filepath.Join(t.TempDir(), "socred.db")) })
}

// TestConformanceLoadInParts runs the suite with Load reading records on
// several connections however few there are.
func TestConformanceLoadInParts(t *testing.T) {
	defer sqlite.SetLoadSplitMin(0)()
	storetest.Run(t, func(t *testing.T) socred.Store { return mustOpen(t, filepath.Join(t.TempDir(), "socred.db")) })
}

// merging merges the subject indexes to disk after every commit, so the
// suite also runs against the on-disk half of the indexes.
type merging struct{ *sqlite.Store }

func (m merging) Commit(ctx context.Context, w *socred.Write) error {
	if err := m.Store.Commit(ctx, w); err != nil {
		return err
	}
	return m.MergeIndexes(ctx)
}

func TestConformanceMerged(t *testing.T) {
	storetest.Run(t, func(t *testing.T) socred.Store {
		return merging{mustOpen(t, filepath.Join(t.TempDir(), "socred.db"))}
	})
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func rec(id int, subject string) *socred.Record {
	return &socred.Record{ID: strconv.Itoa(id), Key: "k" + strconv.Itoa(id), Subject: subject, Scheme: "city", Rule: "red-light",
		Points: -5, OccurredAt: t0, CountsUntil: t0.AddDate(1, 0, 0), Reporter: "city", AcceptedAt: t0}
}

func ids(t *testing.T, s *sqlite.Store, subject string) []string {
	t.Helper()
	rs, err := s.SubjectRecords(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// The subject index survives restarts whether or not its tail was merged,
// and a merge cut short by a crash leaves no duplicates.
func TestSubjectIndexAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	s := mustOpen(t, path)
	commit := func(s *sqlite.Store, recs ...*socred.Record) {
		t.Helper()
		if err := s.Commit(ctx, &socred.Write{Now: t0, Records: recs,
			Checks: []socred.CheckEntry{{Subject: recs[0].Subject, At: t0, By: "railway", Action: "ride"}}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(s, rec(1, "a"), rec(2, "b"), rec(3, "a"))
	if err := s.MergeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	commit(s, rec(4, "a"), rec(5, "b"))
	if got, want := ids(t, s, "a"), []string{"1", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("before restart: got %v, want %v", got, want)
	}
	s.Close()

	s = mustOpen(t, path) // tail rebuilt from the rows after the merged mark
	if got, want := ids(t, s, "a"), []string{"1", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("after restart: got %v, want %v", got, want)
	}
	if cs, _ := s.Checks(ctx, "a", socred.Page{}); len(cs) != 2 {
		t.Errorf("checks after restart: got %d, want 2", len(cs))
	}
	commit(s, rec(6, "a"))
	s.Close()

	// A merge that wrote some rows but not the mark, as after a crash.
	mustExec(t, path+"-index", `INSERT INTO records_by_subject (subject, id) VALUES ('a', 4), ('a', 6)`, nil)
	s = mustOpen(t, path)
	defer s.Close()
	if got, want := ids(t, s, "a"), []string{"1", "3", "4", "6"}; !slices.Equal(got, want) {
		t.Errorf("after a cut-short merge: got %v, want %v", got, want)
	}
	if err := s.MergeIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(t, s, "a"), []string{"1", "3", "4", "6"}; !slices.Equal(got, want) {
		t.Errorf("after merging again: got %v, want %v", got, want)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	mustOpen(t, path).Close()
	mustExec(t, path, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`, nil)
	_, err := sqlite.Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("opening a newer schema: got %v, want a refusal naming version 99", err)
	}
}

func TestMigrationsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	mustOpen(t, path).Close()
	mustOpen(t, path).Close() // a second open applies nothing again
	var n, v int
	mustExec(t, path, `SELECT COUNT(*), MAX(version) FROM schema_migrations`, func(stmt *sqlite3.Stmt) error {
		n, v = stmt.ColumnInt(0), stmt.ColumnInt(1)
		return nil
	})
	if n != sqlite.SchemaVersion() || v != sqlite.SchemaVersion() {
		t.Errorf("schema_migrations: %d rows up to version %d, want %d", n, v, sqlite.SchemaVersion())
	}
}
