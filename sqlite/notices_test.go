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

// A record's notice names its lead, which the store keeps once in the
// notice's transaction: it reads back whole, also after the store is
// reopened, and a lead encoded for a write that was never committed is
// kept by the next write that names it.
func TestNoticeLeadsKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "socred.db")
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	notice := func(id, subject string) socred.Notice {
		r := &socred.Record{ID: id, Reporter: "rongcheng-police", Subject: subject, Scheme: "rongcheng", Rule: "dog",
			Points: -5, OccurredAt: at, AcceptedAt: at}
		e := socred.Event{Kind: socred.EventScoreChanged, Subject: subject, At: at, Scheme: "rongcheng", OldScore: 1000, NewScore: 995}
		n, _ := socred.RecordNoticeWith(r, "Dog without a leash", []socred.Event{e}, nil)
		return n
	}
	write := func(s *Store, ns ...socred.Notice) *socred.Write {
		w := &socred.Write{Now: at, Notices: ns}
		for i := range ns {
			body, lead, err := s.NoticeLeads().AppendNotice(nil, &ns[i])
			if err != nil {
				t.Fatal(err)
			}
			if lead.Ref == 0 {
				t.Fatalf("notice %d: no lead named: %s", i, body)
			}
			w.NoticeBodies = append(w.NoticeBodies, body)
			w.NoticeLeads = append(w.NoticeLeads, lead)
		}
		return w
	}
	s := openAt(t, path)
	// Encoded, never committed: the lead is in the store's memory only.
	_ = write(s, notice("1", "a"))
	if err := s.Commit(ctx, write(s, notice("2", "b"), notice("3", "c"))); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"b": `rongcheng-police recorded "Dog without a leash" (-5 points in rongcheng) about you on 2026-03-01 (record 2). Your rongcheng score changed from 1000 to 995.`,
		"c": `rongcheng-police recorded "Dog without a leash" (-5 points in rongcheng) about you on 2026-03-01 (record 3). Your rongcheng score changed from 1000 to 995.`,
	}
	check := func(s *Store) {
		t.Helper()
		for subject, msg := range want {
			ns, err := s.Notices(ctx, subject, socred.Page{})
			if err != nil || len(ns) != 1 {
				t.Fatalf("notices of %s: %v %+v", subject, err, ns)
			}
			if ns[0].Message != msg {
				t.Errorf("notice of %s:\n%s\nwant\n%s", subject, ns[0].Message, msg)
			}
		}
		err := s.read(ctx, func(conn *sqlite3.Conn) error {
			if n := count(t, conn, `SELECT COUNT(*) FROM notice_leads`); n != 1 {
				t.Errorf("%d leads kept, want 1", n)
			}
			if n := count(t, conn, `SELECT COUNT(*) FROM notices WHERE instr(CAST(body AS TEXT), '"lead_ref":') > 0 AND instr(CAST(body AS TEXT), 'recorded') = 0`); n != 2 {
				t.Errorf("%d notices name their lead, want 2", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	check(s)
}
