package sqlite

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// long is a query that runs for seconds (about 7 here) unless interrupted:
// bounded, so that a watch that fails to interrupt fails its test instead
// of hanging it.
const long = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000000) SELECT count(*) FROM n`

func openInterruptible(t *testing.T) *interruptible {
	t.Helper()
	conn, err := sqlite3.OpenConn(filepath.Join(t.TempDir(), "db"), sqlite3.OpenReadWrite|sqlite3.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return newInterruptible(conn)
}

func one(t *testing.T, i *interruptible) {
	t.Helper()
	if n, err := sqlitex.ResultInt(i.conn.Prep(`SELECT 1`)); err != nil || n != 1 {
		t.Fatalf("SELECT 1 = %d, %v", n, err)
	}
}

// usable checks that a use of the connection after the watch is not
// interrupted.
func usable(t *testing.T, i *interruptible) {
	t.Helper()
	i.watch(context.Background())
	one(t, i)
	i.unwatch()
}

// interrupted runs query and wants it interrupted; why says what failed.
func interrupted(t *testing.T, i *interruptible, query, why string) {
	t.Helper()
	_, err := sqlitex.ResultInt(i.conn.Prep(query))
	if code := sqlite3.ErrCode(err); code != sqlite3.ResultInterrupt {
		t.Fatalf("%s: %v (%v)", why, code, err)
	}
}

func TestWatchInterruptsAndRecovers(t *testing.T) {
	i := openInterruptible(t)
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		i.watch(ctx)
		time.AfterFunc(20*time.Millisecond, cancel)
		interrupted(t, i, long, "the query ran on after its context ended")
		i.unwatch()
		usable(t, i)
	}
}

func TestWatchOfAnEndedContext(t *testing.T) {
	i := openInterruptible(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	i.watch(ctx)
	interrupted(t, i, `SELECT 1`, "a statement ran under a context ended before")
	i.unwatch()
	usable(t, i)
}

func TestWatchEndedIsNotInterrupted(t *testing.T) {
	i := openInterruptible(t)
	ctx, cancel := context.WithCancel(context.Background())
	i.watch(ctx)
	one(t, i)
	i.unwatch()
	cancel() // after the watch: nothing of it may reach the connection
	time.Sleep(10 * time.Millisecond)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	i.watch(ctx2)
	one(t, i)
	i.unwatch()
}

func TestWatchInsideAWatch(t *testing.T) {
	i := openInterruptible(t)
	ctx, cancel := context.WithCancel(context.Background())
	i.watch(ctx)
	i.watch(context.Background()) // a commit inside the store's opening
	one(t, i)
	i.unwatch()
	cancel() // the outer watch still holds
	interrupted(t, i, long, "the outer watch was lost")
	i.unwatch()
	usable(t, i)
}

func TestUnwatchResetsStatements(t *testing.T) {
	i := openInterruptible(t)
	i.watch(context.Background())
	stmt := i.conn.Prep(`SELECT 1 UNION ALL SELECT 2`)
	if row, err := stmt.Step(); err != nil || !row {
		t.Fatalf("step: %v, %v", row, err)
	}
	i.unwatch()
	if q := i.conn.CheckReset(); q != "" {
		t.Fatalf("statement left with a row pending: %q", q)
	}
}

// A watch starts no goroutine: the driver's SetInterrupt started one for
// every read and commit, and waited for it to run when taken back.
func TestWatchStartsNoGoroutine(t *testing.T) {
	i := openInterruptible(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := runtime.NumGoroutine()
	i.watch(ctx)
	during := runtime.NumGoroutine()
	i.unwatch()
	if during > before { // fewer, if a goroutine of an earlier test ended meanwhile
		t.Fatalf("%d goroutines during a watch, %d before", during, before)
	}
}
