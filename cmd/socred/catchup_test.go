package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	sc "github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	sqlitestore "github.com/socred/socred/sqlite"
)

// TestKillDuringCatchUp: thousands of subjects fall due while the server is
// down, each at a moment of its own, so that the catch-up at the next start
// commits in several writes. Killed with SIGKILL again and again while it
// catches up, the server ends with every change applied once: no subject has
// a notice twice.
func TestKillDuringCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits for 5,000 subjects to fall due")
	}
	const subjects = 5000
	db := filepath.Join(t.TempDir(), "socred.db")
	last := seedFallingDue(t, db, subjects)
	time.Sleep(time.Until(last.Add(300 * time.Millisecond)))

	// Kills at moments spread over the start: loading, catching up,
	// serving. Each start goes on from what the one before settled.
	for _, d := range []time.Duration{60, 90, 120, 150, 180, 220, 260, 320, 400, 500} {
		cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--db", db)
		cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+adminToken)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait() // killed: the status is the signal's
		var settled int64
		querySQLite(t, db, "SELECT value FROM meta WHERE key = 'settled'", func(stmt *sqlite.Stmt) { settled = stmt.ColumnInt64(0) })
		t.Logf("killed after %v: settled up to %v", d*time.Millisecond, time.UnixMicro(settled).UTC().Format(time.StampMicro))
	}
	s := startServer(t, db)
	s.stop()

	type key struct {
		subject, kind, list, record string
		at                          int64
	}
	seen := map[key]int{}
	delisted := 0
	querySQLite(t, db, "SELECT subject, at, body FROM notices", func(stmt *sqlite.Stmt) {
		var n sc.Notice
		if err := json.Unmarshal([]byte(stmt.ColumnText(2)), &n); err != nil {
			t.Fatalf("notice body: %v", err)
		}
		k := key{stmt.ColumnText(0), string(n.Kind), n.List, n.Record, stmt.ColumnInt64(1)}
		if seen[k]++; seen[k] == 2 {
			t.Errorf("notice made twice: %+v", k)
		}
		if n.Kind == sc.NoticeKind(sc.EventDelisted) && n.List == "repeat-red-light" {
			delisted++
		}
	})
	if delisted != subjects {
		t.Errorf("%d notices of leaving repeat-red-light, want one for each of %d subjects", delisted, subjects)
	}
}

// openExample opens a service with the example pack on a SQLite database
// at db, its clock now (the real one when nil), and returns it with the
// function that closes it and its store.
func openExample(t *testing.T, db string, now func() time.Time) (*service.Service, func()) {
	t.Helper()
	ctx := context.Background()
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	store, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		svc.Now = now
	}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, func() {
		t.Helper()
		if err := svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// seedFallingDue makes a database at db whose subjects are each on
// repeat-red-light until their first red light is a year old, a moment of
// their own within the second that begins about three seconds from now, and
// returns the last of those moments.
func seedFallingDue(t *testing.T, db string, subjects int) time.Time {
	t.Helper()
	ctx := context.Background()
	// The seeding service's clock is a minute behind, so that nothing falls
	// due while it seeds, however slow the machine (a race-detector build
	// took more than the three seconds below): the catch-up is left whole
	// for the starts that follow.
	const lag = time.Minute
	seedNow := func() time.Time { return time.Now().Add(-lag) }
	svc, closeSvc := openExample(t, db, seedNow)
	admin := &sc.Caller{Token: &sc.Token{ID: "admin", Role: sc.RoleAdmin, Name: "admin"}}
	subs := make([]*sc.Subject, subjects)
	for i := range subs {
		subs[i] = &sc.Subject{ID: fmt.Sprintf("p%05d", i), Kind: sc.Person, Name: "P", Region: "rongcheng"}
	}
	if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	first := now.Add(3 * time.Second)
	var recs []sc.RecordInput
	var last time.Time
	for i, s := range subs {
		due := first.Add(time.Duration(i) * time.Second / time.Duration(subjects))
		last = due
		recs = append(recs,
			sc.RecordInput{Key: s.ID + "-1", Subject: s.ID, Scheme: "rongcheng", Rule: "red-light", OccurredAt: due.AddDate(-1, 0, 0)},
			sc.RecordInput{Key: s.ID + "-2", Subject: s.ID, Scheme: "rongcheng", Rule: "red-light", OccurredAt: now.Add(-time.Hour)})
	}
	if _, err := svc.SubmitRecords(ctx, admin, recs); err != nil {
		t.Fatal(err)
	}
	closeSvc()
	if seedNow().After(first) {
		t.Fatalf("seeding took until %v on its clock, past the first due moment %v", seedNow(), first)
	}
	return last
}
