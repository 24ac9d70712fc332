package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred/postgres/postgrestest"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// TestKillDuringIngest kills the server with SIGKILL while clients submit
// batches, restarts it and checks that every acknowledged record is there
// exactly once and that each batch in flight was stored whole or not at all.
func TestKillDuringIngest(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { killDuringIngest(t, seed) })
	}
}

func killDuringIngest(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	db := filepath.Join(t.TempDir(), "socred.db")
	s := startServer(t, db)
	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	const subjects = 50
	for i := range subjects {
		s.must(201, "PUT", "/v1/subjects/s"+strconv.Itoa(i), city, map[string]any{"kind": "person", "name": "S", "region": "rongcheng"})
	}
	rules := []string{"littering", "blood-donation", "red-light", "volunteering"}
	now := time.Now().UTC().Add(-time.Minute)
	makeBatch := func(client, n int) map[string]any {
		var rs []map[string]any
		for j := range 200 {
			rs = append(rs, rec(fmt.Sprintf("c%d-b%d-r%d", client, n, j), "s"+strconv.Itoa(rng.IntN(subjects)), "rongcheng", rules[rng.IntN(len(rules))], now))
		}
		return batch(rs...)
	}

	pause := time.Duration(300+rng.IntN(700)) * time.Millisecond // drawn before the clients share rng
	var (
		mu       sync.Mutex
		acked    []map[string]any // batches the server acknowledged
		inFlight []map[string]any // batches sent when the server died
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	provider := s.token(map[string]any{"role": "provider", "name": "railway"})
	var checksAcked, checksSent int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			checksSent++
			mu.Unlock()
			r, err := s.tryCall("POST", "/v1/checks", provider, map[string]any{"subject": "s" + strconv.Itoa(n%subjects), "action": "ride-high-speed-train"})
			if err != nil || r.status != 200 {
				return
			}
			mu.Lock()
			checksAcked++
			mu.Unlock()
		}
	}()
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				b := makeBatch(c, n)
				mu.Unlock()
				r, err := s.tryCall("POST", "/v1/records", city, b)
				mu.Lock()
				if err == nil && r.status == 200 {
					acked = append(acked, b)
				} else {
					inFlight = append(inFlight, b)
				}
				mu.Unlock()
				if err != nil || r.status != 200 {
					return
				}
			}
		}()
	}
	time.Sleep(pause)
	s.kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kill")
	}

	// The database is intact.
	sqliteIntegrity(t, db)

	s = startServer(t, db)
	// Every acknowledged batch is stored: replaying it is all duplicates.
	for _, b := range acked {
		out := s.must(200, "POST", "/v1/records", city, b).json(t)
		for _, r := range out["records"].([]any) {
			if st := r.(map[string]any)["status"]; st != "duplicate" {
				t.Fatalf("acknowledged record %v: %v after the crash", r.(map[string]any)["key"], st)
			}
		}
	}
	// A batch in flight was stored whole or not at all; replaying it
	// stores it now if it was not.
	for _, b := range inFlight {
		out := s.must(200, "POST", "/v1/records", city, b).json(t)
		counts := map[any]int{}
		for _, r := range out["records"].([]any) {
			counts[r.(map[string]any)["status"]]++
		}
		if len(counts) != 1 {
			t.Errorf("a batch in flight was stored in part: %v", counts)
		}
	}
	// Now every record of every batch is stored exactly once.
	want := 0
	for _, b := range append(acked, inFlight...) {
		want += len(b["records"].([]map[string]any))
	}
	total, checks := 0, 0
	reviewer := s.token(map[string]any{"role": "reviewer", "name": "r"})
	for i := range subjects {
		f := s.must(200, "GET", "/v1/subjects/s"+strconv.Itoa(i)+"/file", reviewer, nil).json(t)
		total += len(f["records"].([]any))
		checks += len(f["checks"].([]any))
	}
	if total != want {
		t.Errorf("the files hold %d records, want %d", total, want)
	}
	// Every acknowledged check is in the files; the one in flight may be.
	if checks < checksAcked || checks > checksSent {
		t.Errorf("the files hold %d checks; %d were acknowledged and %d sent", checks, checksAcked, checksSent)
	}
	t.Logf("seed %d: %d batches and %d checks acknowledged, %d batches in flight when killed", seed, len(acked), checksAcked, len(inFlight))
}

// sqliteIntegrity runs SQLite's PRAGMA integrity_check on the database file
// db, which no server has open, and fails the test unless it finds the
// database intact.
func sqliteIntegrity(t *testing.T, db string) {
	t.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var check []string
	err = sqlitex.ExecuteTransient(conn, "PRAGMA integrity_check", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { check = append(check, stmt.ColumnText(0)); return nil }})
	if err != nil || len(check) != 1 || check[0] != "ok" {
		t.Errorf("integrity_check: %q %v", check, err)
	}
}

// storedKeysSQLite reads, on a read-only connection of its own to the
// SQLite database db, the ids of the records stored under each key.
func storedKeysSQLite(t *testing.T, db string) map[string][]string {
	t.Helper()
	byKey := map[string][]string{}
	querySQLite(t, db, "SELECT key, id FROM records WHERE key IS NOT NULL", func(stmt *sqlite.Stmt) {
		byKey[stmt.ColumnText(0)] = append(byKey[stmt.ColumnText(0)], strconv.FormatInt(stmt.ColumnInt64(1), 10))
	})
	return byKey
}

// storedChecksSQLite counts the checks in the SQLite database at db by
// purpose.
func storedChecksSQLite(t *testing.T, db string) map[string]int {
	t.Helper()
	out := map[string]int{}
	querySQLite(t, db, "SELECT purpose FROM checks", func(stmt *sqlite.Stmt) { out[stmt.ColumnText(0)]++ })
	return out
}

// querySQLite runs query on a read-only connection of its own to the
// SQLite database at db, calling row with every row.
func querySQLite(t *testing.T, db, query string, row func(*sqlite.Stmt)) {
	t.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetBusyTimeout(10 * time.Second)
	err = sqlitex.ExecuteTransient(conn, query, &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { row(stmt); return nil }})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestServeRefusesUnsafeDurability: socred serve refuses, before changing
// it, a database that could lose an acknowledged write in a crash, and
// serves it when told --allow-unsafe-durability.
func TestServeRefusesUnsafeDurability(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		// The store puts every database file in WAL mode with
		// synchronous=FULL itself, and nothing tells it otherwise; what
		// it refuses is a database that cannot be in WAL mode, which an
		// in-memory one cannot.
		code, stderr := serveUntilExit(t, "serve", "--addr", "127.0.0.1:0", "--db", ":memory:")
		if code != 1 || !strings.Contains(stderr, "sqlite: durability is off (journal_mode=memory, synchronous=2; want wal and FULL=2)") {
			t.Errorf("an in-memory database: exit %d; want 1 and the durability refusal:\n%s", code, stderr)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		db := postgrestest.Schema(t, postgrestest.Database(t, "the durability refusal on PostgreSQL"))
		u, err := url.Parse(db)
		if err != nil {
			t.Fatal(err)
		}
		schema := u.Query().Get("search_path")
		// synchronous_commit=off for the server's sessions, as the URL
		// asks the server.
		unsafe := db + "&options=-c%20synchronous_commit%3Doff"
		code, stderr := serveUntilExit(t, "serve", "--addr", "127.0.0.1:0", "--db", unsafe)
		if code != 1 || !strings.Contains(stderr, "postgres: durability is off (fsync=on, synchronous_commit=off; want both on)") {
			t.Errorf("synchronous_commit=off: exit %d; want 1 and the durability refusal:\n%s", code, stderr)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var tables int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("the refused server left %d tables in the schema; want it untouched", tables)
		}

		s := startServer(t, unsafe, "--allow-unsafe-durability")
		if !strings.Contains(s.logs.String(), `level=WARN msg="durability is off, as allowed: an acknowledged write may be lost in a crash" component=postgres fsync=on synchronous_commit=off`) {
			t.Errorf("the server told --allow-unsafe-durability does not warn:\n%s", s.logs)
		}
		city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
		s.must(201, "PUT", "/v1/subjects/p0", city, map[string]any{"kind": "person", "name": "P", "region": "rongcheng"})
		s.must(200, "POST", "/v1/records", city, batch(rec("k0", "p0", "rongcheng", "littering", time.Now().Add(-time.Minute))))
		s.stop()
	})
}

// serveUntilExit runs socred with args, which must make it exit within a
// minute, and returns its exit code and stderr.
func serveUntilExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+adminToken)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("socred %s did not exit within a minute:\n%s", strings.Join(args, " "), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run socred: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}
