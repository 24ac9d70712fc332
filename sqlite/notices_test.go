package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/socred/socred"
	"github.com/socred/socred/storetest"
)

// TestNoticeDesignationsMigrated: migration 18 finds the notices already
// kept that describe a designated entry, and the purge of its text then
// clears it from them.
func TestNoticeDesignationsMigrated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := openAt(t, path)
	if err := s.Commit(ctx, &socred.Write{Now: at, Notices: storetest.DesignationNotices(at)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The notices as a build before version 18 left them, and the
	// migration run on them.
	conn, err := sqlite3.OpenConn(path, sqlite3.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	migration, err := migrations.ReadFile("migrations/0018_notice_designations.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitex.ExecuteScript(conn, `DROP TABLE notice_designations; `+string(migration), nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	err = s.read(ctx, func(conn *sqlite3.Conn) error {
		if n := count(t, conn, `SELECT COUNT(*) FROM notice_designations WHERE designation = 'd1'`); n != 2 {
			t.Errorf("%d notices of d1 found by the migration, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckDesignationPurged(t, s, at)
}
