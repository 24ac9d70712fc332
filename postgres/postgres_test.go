package postgres_test

import (
	"cmp"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/postgres/postgrestest"
	"github.com/socred/socred/storetest"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

// database returns the test database's URL, or skips the test.
func database(tb testing.TB) string {
	tb.Helper()
	return postgrestest.Database(tb, "the PostgreSQL conformance suite")
}

func mustOpen(tb testing.TB, url string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// queryInt runs a query returning one integer on a connection of its own.
func queryInt(tb testing.TB, url, query string) int {
	tb.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestConformance(t *testing.T) {
	db := database(t)
	storetest.Run(t, func(t *testing.T) socred.Store { return mustOpen(t, postgrestest.Schema(t, db)) })
}

func TestNewerSchemaRefused(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	mustOpen(t, url).Close()
	postgrestest.Exec(t, url, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`)
	s, err := postgres.Open(ctx, url)
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("opening a newer schema: got %v, want a refusal naming version 99", err)
	}
}

// A server whose build would migrate the database does not while servers
// of the build before run on it: they would read the new schema as the
// old. Once they stop, it migrates.
func TestNoMigrationUnderRunningServers(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	running := mustOpen(t, url)
	defer running.Close()
	// The database as the build before left it: its last migration not
	// applied (each migration can run again on the schema after it), as a
	// server of that build runs on it.
	last := postgres.SchemaVersion()
	postgrestest.Exec(t, url, `DELETE FROM schema_migrations WHERE version = `+strconv.Itoa(last))

	s, err := postgres.Open(ctx, url)
	if err == nil {
		s.Close()
		t.Fatal("a newer build migrated the database under a running server")
	}
	if want := "1 socred server of an earlier build is running on this database at schema version " + strconv.Itoa(last-1); !strings.Contains(err.Error(), want) {
		t.Errorf("opening under a running server: %v; want an error saying %q", err, want)
	}
	if v := queryInt(t, url, `SELECT MAX(version) FROM schema_migrations`); v != last-1 {
		t.Errorf("schema version %d after the refusal, want %d as it was", v, last-1)
	}

	running.Close()
	s = mustOpen(t, url)
	s.Close()
	if v := queryInt(t, url, `SELECT MAX(version) FROM schema_migrations`); v != last {
		t.Errorf("schema version %d once the running server stopped, want %d", v, last)
	}
}

// A store whose connection holding the running lock breaks takes the lock
// again; if the schema moved meanwhile, it reads and writes nothing more.
func TestRunningLockTakenAgain(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	s := mustOpen(t, url)
	defer s.Close()
	w := &socred.Write{Now: t0, Subjects: []*socred.Subject{{ID: "P-1", Kind: socred.Person, Name: "P", Region: "city"}}}
	if err := s.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	held := func(not int) int {
		t.Helper()
		for range 100 {
			if pid := queryInt(t, url, postgres.RunningLockHolder); pid != 0 && pid != not {
				return pid
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no backend but %d holds the running lock after 10 s", not)
		return 0
	}
	pid := held(0)
	postgrestest.Exec(t, url, `SELECT pg_terminate_backend(`+strconv.Itoa(pid)+`)`)
	pid = held(pid)
	w.Subjects[0] = &socred.Subject{ID: "P-2", Kind: socred.Person, Name: "P", Region: "city"}
	if err := s.Commit(ctx, w); err != nil {
		t.Fatalf("a commit after the lock was taken again: %v", err)
	}

	// Another build migrates the database while the connection is down.
	postgrestest.Exec(t, url, `SELECT pg_terminate_backend(`+strconv.Itoa(pid)+`);
		INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)`)
	w.Subjects[0] = &socred.Subject{ID: "P-3", Kind: socred.Person, Name: "P", Region: "city"}
	var err error
	for range 100 {
		if err = s.Commit(ctx, w); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil || !strings.Contains(err.Error(), "another build migrated the database") {
		t.Fatalf("commits on a schema migrated by another build: got %v, want a refusal", err)
	}
	if _, err := s.Subject(ctx, "P-1"); err == nil || !strings.Contains(err.Error(), "another build migrated the database") {
		t.Errorf("a read on a schema migrated by another build: got %v, want a refusal", err)
	}
}

// Servers starting at once on a new database migrate it once, one after
// the other.
func TestMigrationsRecorded(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d of 4 at once: %v", i+1, err)
		}
	}
	mustOpen(t, url).Close() // a later open applies nothing again
	n := queryInt(t, url, `SELECT COUNT(*) FROM schema_migrations`)
	v := queryInt(t, url, `SELECT MAX(version) FROM schema_migrations`)
	if n != postgres.SchemaVersion() || v != postgres.SchemaVersion() {
		t.Errorf("schema_migrations: %d rows up to version %d, want %d", n, v, postgres.SchemaVersion())
	}
}

func record(id int, key, subject string) *socred.Record {
	return &socred.Record{ID: strconv.Itoa(id), Key: key, Subject: subject, Scheme: "city", Rule: "red-light", Points: -5,
		OccurredAt: t0, CountsUntil: t0.AddDate(1, 0, 0), Reporter: "city", AcceptedAt: t0}
}

func token(id, hash string) *socred.Token {
	return &socred.Token{ID: id, Role: socred.RoleProvider, Name: id, Hash: []byte(hash), CreatedAt: t0}
}

// A unique violation, on any table, fails the whole write with a conflict.
func TestUniqueViolationIsConflict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored *socred.Write // committed first
		write  *socred.Write // fails
	}{
		{"record key stored before",
			&socred.Write{Records: []*socred.Record{record(1, "k1", "li")}},
			&socred.Write{Records: []*socred.Record{record(2, "k2", "li"), record(3, "k1", "zhang")}}},
		{"record key twice in one write",
			&socred.Write{},
			&socred.Write{Records: []*socred.Record{record(2, "k2", "li"), record(3, "k2", "zhang")}}},
		{"record id stored before",
			&socred.Write{Records: []*socred.Record{record(1, "k1", "li")}},
			&socred.Write{Records: []*socred.Record{record(2, "k2", "li"), record(1, "k3", "li")}}},
		{"token hash stored before",
			&socred.Write{Tokens: []*socred.Token{token("tok-1", "secret hash")}},
			&socred.Write{Records: []*socred.Record{record(2, "k2", "li")}, Tokens: []*socred.Token{token("tok-2", "secret hash")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, postgrestest.Schema(t, database(t)))
			defer s.Close()
			tc.stored.Now, tc.write.Now = t0, t0
			if err := s.Commit(ctx, tc.stored); err != nil {
				t.Fatal(err)
			}
			err := s.Commit(ctx, tc.write)
			if got := socred.ErrorCode(err); got != socred.ECONFLICT {
				t.Errorf("got %v (code %s), want code %s", err, got, socred.ECONFLICT)
			}
			if found, _ := s.RecordsByKey(ctx, "city", []string{"k2"}); len(found) != 0 {
				t.Errorf("the failed write stored record k2: %v", found["k2"])
			}
		})
	}
}

// records returns n records numbered from first, spread over 10,000
// subjects the way reporters' batches are.
func records(first, n int) []*socred.Record {
	out := make([]*socred.Record, n)
	for i := range out {
		id := first + i
		out[i] = &socred.Record{ID: strconv.Itoa(id), Key: "k" + strconv.Itoa(id), Subject: "s" + strconv.Itoa(id*7919%10_000),
			Scheme: "city", Rule: "red-light", Points: -5, OccurredAt: t0, CountsUntil: t0.AddDate(1, 0, 0),
			Reporter: "city", Evidence: "camera 7", AcceptedAt: t0.Add(time.Minute)}
	}
	return out
}

// BenchmarkCommitRecords commits writes of 1,000 records each, as the
// service's group commit does under load.
func BenchmarkCommitRecords(b *testing.B) {
	const batch = 1000
	s := mustOpen(b, postgrestest.Schema(b, database(b)))
	defer s.Close()
	next := 1
	for b.Loop() {
		if err := s.Commit(ctx, &socred.Write{Now: t0, Records: records(next, batch)}); err != nil {
			b.Fatal(err)
		}
		next += batch
	}
	b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLoad scans a database of 1M records through Load.
func BenchmarkLoad(b *testing.B) {
	const n, batch = 1_000_000, 10_000
	url := postgrestest.Schema(b, database(b))
	s := mustOpen(b, url)
	for first := 1; first <= n; first += batch {
		if err := s.Commit(ctx, &socred.Write{Now: t0, Records: records(first, batch)}); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	s = mustOpen(b, url)
	defer s.Close()
	for b.Loop() {
		var l storetest.CountingLoader
		if err := s.Load(ctx, &l); err != nil {
			b.Fatal(err)
		}
		if l.Records.Load() != int64(n) {
			b.Fatalf("loaded %d records, want %d", l.Records.Load(), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// Servers sharing the database each get pending notices no other holds:
// a notice is delivered by one of them, unless its server's lease ends
// first (it stopped), and then by another.
func TestPendingNoticesClaimed(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	a, b := mustOpen(t, url), mustOpen(t, url)
	defer a.Close()
	defer b.Close()
	var ns []socred.Notice
	for i := range 10 {
		ns = append(ns, socred.Notice{Subject: "s" + strconv.Itoa(i), At: t0, Kind: socred.NoticeCheckDenied, Message: "m", Action: "fly", By: "air"})
	}
	if err := a.Commit(ctx, &socred.Write{Notices: ns, Deliver: true}); err != nil {
		t.Fatal(err)
	}
	ids := func(ns []socred.Notice) []int64 {
		var out []int64
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	pa, err := a.PendingNotices(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.PendingNotices(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa) != 4 || len(pb) != 6 || pa[3].ID >= pb[0].ID || !slices.IsSortedFunc(pb, func(x, y socred.Notice) int { return cmp.Compare(x.ID, y.ID) }) {
		t.Fatalf("a took %v, then b %v: want the first 4 and the other 6, oldest first", ids(pa), ids(pb))
	}
	// Each keeps what it holds: asked again, a gets its own again (to retry
	// after a failure) and nothing of b's.
	if again, _ := a.PendingNotices(ctx, 100); !slices.Equal(ids(again), ids(pa)) {
		t.Errorf("a again: got %v, want %v", ids(again), ids(pa))
	}
	if err := b.MarkDelivered(ctx, ids(pb)); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.PendingNotices(ctx, 100); len(p) != 0 {
		t.Errorf("b after delivering its own: got %v, want none (a holds the rest)", ids(p))
	}
	// a stops without delivering (its process killed: its claims stay);
	// once its lease ends, another takes them.
	c := mustOpen(t, url)
	defer c.Close()
	postgres.SetNoticeLease(c, 50*time.Millisecond)
	if p, _ := c.PendingNotices(ctx, 100); len(p) != 0 {
		t.Errorf("c while a's lease lasts: got %v, want none", ids(p))
	}
	postgrestest.Exec(t, url, `UPDATE notices SET claimed_until = 0 WHERE claimed_until IS NOT NULL AND pending`)
	pc, err := c.PendingNotices(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(pc), ids(pa)) {
		t.Fatalf("after a's lease ended: c got %v, want %v", ids(pc), ids(pa))
	}
	time.Sleep(100 * time.Millisecond)
	if p, _ := b.PendingNotices(ctx, 100); !slices.Equal(ids(p), ids(pa)) {
		t.Errorf("after c's lease ended: b got %v, want %v", ids(p), ids(pa))
	}
	// A store closed cleanly hands back what it holds at once.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.PendingNotices(ctx, 100); !slices.Equal(ids(p), ids(pa)) {
		t.Errorf("after b closed: c got %v, want %v", ids(p), ids(pa))
	}
}

// Servers claiming at the same moment never get the same notice.
func TestPendingNoticesClaimedAtOnce(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	stores := make([]*postgres.Store, 4)
	for i := range stores {
		stores[i] = mustOpen(t, url)
		defer stores[i].Close()
	}
	var ns []socred.Notice
	for i := range 400 {
		ns = append(ns, socred.Notice{Subject: "s" + strconv.Itoa(i), At: t0, Kind: socred.NoticeCheckDenied, Message: "m", Action: "fly", By: "air"})
	}
	if err := stores[0].Commit(ctx, &socred.Write{Notices: ns, Deliver: true}); err != nil {
		t.Fatal(err)
	}
	got := make([][]socred.Notice, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for {
				p, err := s.PendingNotices(ctx, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(p) == 0 {
					return
				}
				got[i] = append(got[i], p...)
				var delivered []int64
				for _, n := range p {
					delivered = append(delivered, n.ID)
				}
				if err := s.MarkDelivered(ctx, delivered); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[int64]int{}
	for i := range got {
		for _, n := range got[i] {
			seen[n.ID]++
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("notice %d given %d times", id, n)
		}
	}
	if len(seen) != len(ns) {
		t.Errorf("%d notices given, want %d", len(seen), len(ns))
	}
}

// TestNoticeDesignationsMigrated: migration 17 finds the notices already
// kept that describe a designated entry, and the purge of its text then
// clears it from them: the subject's own and a related subject's.
func TestNoticeDesignationsMigrated(t *testing.T) {
	url := postgrestest.Schema(t, database(t))
	s := mustOpen(t, url)
	if err := s.Commit(ctx, &socred.Write{Now: t0, Notices: storetest.DesignationNotices(t0)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The notices as a build before version 17 left them, and the
	// migration run on them.
	migration, err := os.ReadFile("migrations/0017_notice_designations.sql")
	if err != nil {
		t.Fatal(err)
	}
	postgrestest.Exec(t, url, `ALTER TABLE notices DROP COLUMN designations; `+string(migration))
	s = mustOpen(t, url)
	defer s.Close()
	if n := queryInt(t, url, `SELECT COUNT(*) FROM notices WHERE designations = ARRAY['d1']`); n != 2 {
		t.Errorf("%d notices of d1 found by the migration, want 2", n)
	}
	if n := queryInt(t, url, `SELECT COUNT(*) FROM notices WHERE designations IS NULL`); n != 1 {
		t.Errorf("%d notices describing no designation, want 1 (the denial)", n)
	}
	storetest.CheckDesignationPurged(t, s, t0)
	if n := queryInt(t, url, `SELECT COUNT(*) FROM notices WHERE designations IS NOT NULL`); n != 0 {
		t.Errorf("%d notices still marked with a designation after its purge", n)
	}
}
