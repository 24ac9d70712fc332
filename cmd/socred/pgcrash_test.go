package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred/postgres/postgrestest"
)

// TestPostgresCrashDuringIngest crashes PostgreSQL (pg_ctl stop -m
// immediate) while clients submit batches to a server, starts it again, and
// checks that every acknowledged record is stored exactly once, that every
// batch was stored whole or not at all, that the server takes batches again
// once the database is back, and that its scores then match those of a
// server that loads the database afresh. It crashes a PostgreSQL server of
// its own, so it runs beside the tests that share the test database.
func TestPostgresCrashDuringIngest(t *testing.T) {
	if os.Getenv(postgrestest.EnvURL) == "" {
		t.Skip(postgrestest.EnvURL + " is not set: the PostgreSQL crash test starts a PostgreSQL 15 server of its own " +
			"and runs where " + postgrestest.EnvURL + " says the machine has PostgreSQL; .ci/run sets it")
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Skipf("the PostgreSQL crash test starts a PostgreSQL 15 server of its own and needs its programs in %s: %v", pgBin, err)
	}
	pg := startPostgres(t)
	db := pg.url
	s := startServer(t, db)

	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	const subjects = 100
	for i := range subjects {
		s.must(201, "PUT", "/v1/subjects/p"+strconv.Itoa(i), city, map[string]any{"kind": "person", "name": "P", "region": "rongcheng"})
	}

	// Four clients submit batches of 100 records with keys of their own
	// until told to stop, going on after failures.
	var (
		mu       sync.Mutex
		sent     []*sentBatch
		failures = map[string]int{} // failed submissions by status or error
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	acked := func(after time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range sent {
			if b.ids != nil && b.sentAt.After(after) {
				n++
			}
		}
		return n
	}
	before := time.Now().UTC().Add(-time.Minute)
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				b := newBatch(rng, fmt.Sprintf("c%d-b%d", c, n), 100, subjects, before)
				b.sentAt = time.Now()
				mu.Lock()
				sent = append(sent, b)
				mu.Unlock()
				r, err := submit(s, city, b.body)
				mu.Lock()
				switch {
				case err != nil:
					failures["error"]++
				case r.status != 200:
					failures[strconv.Itoa(r.status)]++
				default:
					b.ids, err = acceptedIDs(r)
					b.ackedAt = time.Now()
					if err != nil {
						t.Errorf("batch %s: %v", b.name, err)
					}
				}
				mu.Unlock()
				if b.ids == nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	stopLoad := func() {
		close(stop)
		wg.Wait()
	}

	if !waitFor(10*time.Second, func() bool { return acked(time.Time{}) >= 30 }) {
		stopLoad()
		t.Fatalf("the server acknowledged %d batches in 10 s, want 30 before the crash:\n%s", acked(time.Time{}), s.logs)
	}
	crashed := time.Now()
	pg.crash()
	down := time.Now()
	time.Sleep(500 * time.Millisecond) // the clients meet a database that is down
	pg.start()
	if !pg.waitReady(60 * time.Second) {
		stopLoad()
		t.Fatalf("PostgreSQL is not ready 60 s after pg_ctl start:\n%s", pg.log())
	}
	ready := time.Now()
	// The server takes batches again once PostgreSQL is back: its pool
	// reconnects.
	recovered := waitFor(30*time.Second, func() bool { return acked(ready) >= 30 })
	stopLoad()
	select {
	case <-s.done:
		t.Fatalf("the server exited:\n%s", tail(s.logs.String(), 40))
	default:
	}
	if !recovered {
		t.Errorf("the server acknowledged %d batches in the 30 s after PostgreSQL came back, want 30: it does not recover from the crash:\n%s",
			acked(ready), tail(s.logs.String(), 40))
	}
	var firstAck time.Time
	for _, b := range sent {
		if b.ids != nil && b.ackedAt.After(ready) && (firstAck.IsZero() || b.ackedAt.Before(firstAck)) {
			firstAck = b.ackedAt
		}
	}
	t.Logf("PostgreSQL stopped in %s and was ready again %s later; the server's first acknowledgement came %s after that",
		down.Sub(crashed).Round(time.Millisecond), ready.Sub(down).Round(time.Millisecond), firstAck.Sub(ready).Round(time.Millisecond))
	t.Logf("%d batches sent, %d acknowledged before the crash and %d after PostgreSQL was back; failed submissions: %v",
		len(sent), acked(time.Time{})-acked(ready), acked(ready), failures)

	// What the database holds: every acknowledged record once, with the
	// id the server gave it, and every batch whole or not at all.
	stored := storedKeys(t, db)
	storedBatches := map[*sentBatch]bool{}
	for _, b := range sent {
		n := 0
		for _, k := range b.keys {
			ids := stored[k]
			if len(ids) > 1 {
				t.Errorf("record %s is stored %d times: ids %v", k, len(ids), ids)
			}
			if len(ids) > 0 {
				n++
			}
			if b.ids != nil && (len(ids) != 1 || ids[0] != b.ids[k]) {
				t.Errorf("acknowledged record %s (id %s): stored with ids %v", k, b.ids[k], ids)
			}
		}
		if n != 0 && n != len(b.keys) {
			t.Errorf("batch %s (acknowledged: %t) is stored in part: %d of its %d records", b.name, b.ids != nil, n, len(b.keys))
		}
		storedBatches[b] = n > 0
	}
	unacked, unackedStored := 0, 0
	for _, b := range sent {
		if b.ids == nil {
			unacked++
			if storedBatches[b] {
				unackedStored++
			}
		}
	}
	t.Logf("of the %d batches not acknowledged, %d were stored all the same", unacked, unackedStored)

	// Replaying the batches that were not acknowledged stores those that
	// were not stored and finds the others duplicates, whole; a server that
	// did not recover is replaced by a fresh one for this.
	at := s
	if !recovered {
		s.stop()
		at = startServer(t, db)
	}
	for _, b := range sent {
		if b.ids != nil {
			continue
		}
		want := "accepted"
		if storedBatches[b] {
			want = "duplicate"
		}
		for _, r := range at.must(200, "POST", "/v1/records", city, b.body).json(t)["records"].([]any) {
			r := r.(map[string]any)
			if r["status"] != want {
				t.Errorf("replay of batch %s (stored: %t): record %v is %v, want %s", b.name, storedBatches[b], r["key"], r["status"], want)
			}
			if ids := stored[r["key"].(string)]; want == "duplicate" && (len(ids) != 1 || r["id"] != ids[0]) {
				t.Errorf("replay of batch %s: record %v has id %v, but is stored with ids %v", b.name, r["key"], r["id"], ids)
			}
		}
	}

	// The server that lived through the crash holds the state that is in
	// the database: a write makes it take every change stored so far, and
	// a fresh server on the database then scores and lists every subject
	// as it does.
	at.must(201, "PUT", "/v1/subjects/after-crash", city, map[string]any{"kind": "person", "name": "P", "region": "rongcheng"})
	fresh := startServer(t, db)
	for i := range subjects {
		path := "/v1/subjects/p" + strconv.Itoa(i) + "/file"
		got := at.must(200, "GET", path, adminToken, nil).json(t)
		want := fresh.must(200, "GET", path, adminToken, nil).json(t)
		for _, part := range []string{"scores", "listings"} {
			if !reflect.DeepEqual(got[part], want[part]) {
				t.Errorf("p%d: %s at the server that lived through the crash %v, at a fresh server %v", i, part, got[part], want[part])
			}
		}
	}
}

// sentBatch is a batch of records a client submitted.
type sentBatch struct {
	name   string
	keys   []string
	body   map[string]any
	sentAt time.Time
	// ackedAt is when the server acknowledged it.
	ackedAt time.Time
	// ids are the records' ids by key as the server acknowledged them;
	// nil when it did not acknowledge the batch.
	ids map[string]string
}

// newBatch makes a batch of size records with keys name-r0, name-r1... on
// random subjects p0... and rules that move scores both ways.
func newBatch(rng *rand.Rand, name string, size, subjects int, at time.Time) *sentBatch {
	rules := []string{"blood-donation", "charity-donation", "volunteering", "littering", "unleashed-dog", "red-light"}
	b := &sentBatch{name: name}
	var rs []map[string]any
	for j := range size {
		key := name + "-r" + strconv.Itoa(j)
		b.keys = append(b.keys, key)
		rs = append(rs, rec(key, "p"+strconv.Itoa(rng.IntN(subjects)), "rongcheng", rules[rng.IntN(len(rules))], at))
	}
	b.body = batch(rs...)
	return b
}

// acceptedIDs returns the ids of an answer to a batch by key; every record
// must have been accepted.
func acceptedIDs(r reply) (map[string]string, error) {
	var out struct {
		Records []struct{ Key, ID, Status string }
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, fmt.Errorf("answer: %v: %s", err, r.body)
	}
	ids := make(map[string]string, len(out.Records))
	for _, rec := range out.Records {
		if rec.Status != "accepted" {
			return nil, fmt.Errorf("record %s is %s, want accepted", rec.Key, rec.Status)
		}
		ids[rec.Key] = rec.ID
	}
	return ids, nil
}

// impatient gives up on a request after 20 s, so that a server that hangs
// fails the test instead of stalling it.
var impatient = &http.Client{Timeout: 20 * time.Second}

// submit posts a batch of records to s and returns its answer or the
// transport error.
func submit(s *server, token string, body any) (reply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequest("POST", s.url+"/v1/records", strings.NewReader(string(b)))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := impatient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, body: out}, err
}

// storedKeys reads the ids of the records stored under each key in the
// database at db, a SQLite file or a postgres:// URL.
func storedKeys(t *testing.T, db string) map[string][]string {
	t.Helper()
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return storedKeysPostgres(t, db)
	}
	return storedKeysSQLite(t, db)
}

// storedChecks counts the logged checks by purpose, reading the database
// at db itself.
func storedChecks(t *testing.T, db string) map[string]int {
	t.Helper()
	out := map[string]int{}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, _ := conn.Query(ctx, `SELECT purpose FROM checks`)
		var purpose string
		if _, err := pgx.ForEachRow(rows, []any{&purpose}, func() error { out[purpose]++; return nil }); err != nil {
			t.Fatalf("read checks: %v", err)
		}
		return out
	}
	return storedChecksSQLite(t, db)
}

// storedKeysPostgres reads, on a connection of its own to the schema at db,
// the ids of the records stored under each key, checking that the keys
// table and the records table agree.
func storedKeysPostgres(t *testing.T, db string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	byKey := map[string][]string{}
	rows, _ := conn.Query(ctx, `SELECT key, id FROM records WHERE key IS NOT NULL`)
	var (
		key string
		id  int64
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &id}, func() error {
		byKey[key] = append(byKey[key], strconv.FormatInt(id, 10))
		return nil
	})
	if err != nil {
		t.Fatalf("read records: %v", err)
	}
	var orphans int
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM record_keys k WHERE NOT EXISTS (SELECT FROM records r WHERE r.subject = k.subject AND r.id = k.id AND r.key = k.key)) +
		(SELECT count(*) FROM records r WHERE r.key IS NOT NULL AND NOT EXISTS (SELECT FROM record_keys k WHERE k.reporter = r.reporter AND k.key = r.key AND k.id = r.id))`).Scan(&orphans)
	if err != nil {
		t.Fatalf("compare record_keys with records: %v", err)
	}
	if orphans != 0 {
		t.Errorf("%d rows of record_keys and records do not match a row of the other", orphans)
	}
	return byKey
}

// waitFor asks cond every 10 ms until it holds, for up to limit, and
// reports whether it did.
func waitFor(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// pgBin holds the PostgreSQL 15 server programs the crash test runs.
const pgBin = "/usr/lib/postgresql/15/bin"

// privatePostgres is a PostgreSQL 15 server of the test's own, in a
// temporary directory, which the test may crash and start again without
// touching the cluster that other tests share.
type privatePostgres struct {
	t    *testing.T
	dir  string // holds the data directory, the unix socket and the log
	data string
	port string
	// asPostgres is set when the test runs as root, which PostgreSQL
	// refuses: the server programs then run as the user postgres.
	asPostgres bool
	// url is the URL of the database postgres on the server, over TCP on
	// 127.0.0.1, for the role socred that the server trusts there.
	url string
}

// startPostgres makes a new PostgreSQL 15 cluster in a temporary directory,
// starts it on a free port of 127.0.0.1 and waits until it takes
// connections. The server is stopped and the directory removed when the
// test ends.
func startPostgres(t *testing.T) *privatePostgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "socred-pgcrash")
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePostgres{t: t, dir: dir, data: filepath.Join(dir, "data"), asPostgres: os.Geteuid() == 0}
	t.Cleanup(p.remove)
	if p.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL must run as the user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// The cluster trusts every connection: it listens on 127.0.0.1 and on
	// a socket in a directory only its owner may enter, and lives as long
	// as the test. --no-sync only skips syncing initdb's files to disk; the
	// server syncs its own writes (fsync=on below), which is what the test
	// is about. After a crash, recovery syncs the data directory with one
	// syncfs rather than an fsync of each of its files (0.1 s rather than
	// 1.3 s on a machine of two cores).
	p.run("initdb", "-D", p.data, "-U", "socred", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions")
	conf := fmt.Sprintf("\n# socred's crash test\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
		"fsync = on\nsynchronous_commit = on\nrecovery_init_sync_method = syncfs\nshared_buffers = 16MB\nmax_connections = 40\n", dir)
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if err := errors.Join(err, f.Close()); err != nil {
		t.Fatal(err)
	}
	// Another process may take the free port before the server does: then
	// try another.
	for try := 0; try < 3; try++ {
		p.port = freePort(t)
		if err = p.tryStart(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("private PostgreSQL did not start on a free port in 3 tries: %v\n%s", err, p.log())
	}
	p.url = "postgres://socred@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
	if !p.isReady() {
		t.Fatalf("private PostgreSQL on port %s started but is not ready:\n%s", p.port, p.log())
	}
	return p
}

// freePort returns a TCP port of 127.0.0.1 that no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// command returns the command running the PostgreSQL program prog with
// args, as the user postgres when the test runs as root.
func (p *privatePostgres) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(pgBin, prog)
	if p.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// run runs prog with args, failing the test if it fails.
func (p *privatePostgres) run(prog string, args ...string) {
	p.t.Helper()
	if out, err := p.command(prog, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

// tryStart starts the server on p.port and waits until it runs.
func (p *privatePostgres) tryStart() error {
	out, err := p.command("pg_ctl", "start", "-w", "-t", "60", "-D", p.data, "-l", filepath.Join(p.dir, "log"), "-o", "-p "+p.port).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// start starts the server again after a crash, on the same port.
func (p *privatePostgres) start() {
	p.t.Helper()
	if err := p.tryStart(); err != nil {
		p.t.Errorf("%v\n%s", err, p.log())
	}
}

// crash stops the server at once, as a crash would: it neither finishes
// nor flushes anything, and starts with recovery from its write-ahead log.
func (p *privatePostgres) crash() {
	p.t.Helper()
	if out, err := p.command("pg_ctl", "stop", "-m", "immediate", "-w", "-D", p.data).CombinedOutput(); err != nil {
		p.t.Errorf("pg_ctl stop -m immediate: %v\n%s", err, out)
	}
}

func (p *privatePostgres) isReady() bool {
	return p.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", p.port, "-U", "socred", "-d", "postgres").Run() == nil
}

func (p *privatePostgres) waitReady(limit time.Duration) bool { return waitFor(limit, p.isReady) }

// log returns the end of the server's log.
func (p *privatePostgres) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "log"))
	return tail(string(b), 30)
}

// remove stops the server, if it runs, and removes its directory.
func (p *privatePostgres) remove() {
	if _, err := os.Stat(filepath.Join(p.data, "postmaster.pid")); err == nil {
		if out, err := p.command("pg_ctl", "stop", "-m", "immediate", "-w", "-D", p.data).CombinedOutput(); err != nil {
			p.t.Errorf("stop the private PostgreSQL: %v\n%s", err, out)
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		p.t.Error(err)
	}
}
