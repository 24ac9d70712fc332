package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred/postgres/postgrestest"
)

// envCrash is the environment variable that allows the test to crash the
// PostgreSQL cluster the tests share.
const envCrash = "SOCRED_TEST_POSTGRES_CRASH"

// TestPostgresCrashDuringIngest crashes PostgreSQL (pg_ctlcluster stop -m
// immediate) while clients submit batches to a server, starts it again, and
// checks that every acknowledged record is stored exactly once, that every
// batch was stored whole or not at all, that the server takes batches again
// once the database is back, and that its scores then match those of a
// server that loads the database afresh.
func TestPostgresCrashDuringIngest(t *testing.T) {
	base := postgrestest.Database(t, "the PostgreSQL crash test (run alone, with "+envCrash+"=1)")
	if os.Getenv(envCrash) != "1" {
		t.Skip(envCrash + " is not 1: this test crashes and restarts the PostgreSQL cluster 15/main, failing any other test that uses it meanwhile; " +
			"run it alone: " + envCrash + "=1 go test -run '^TestPostgresCrashDuringIngest$' ./cmd/socred")
	}
	pg := newCluster(t, base)
	db := postgrestest.Schema(t, base)
	t.Cleanup(pg.ensureRunning) // before the schema is dropped, even if the test failed
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
				b := newBatch(rng, fmt.Sprintf("c%d-b%d", c, n), subjects, before)
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
	pg.ctl("stop", "-m", "immediate")
	down := time.Now()
	time.Sleep(500 * time.Millisecond) // the clients meet a database that is down
	pg.ctl("start")
	if !pg.waitReady(60 * time.Second) {
		stopLoad()
		t.Fatal("PostgreSQL is not ready 60 s after pg_ctlcluster start")
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

// newBatch makes a batch of 100 records with keys name-r0 to name-r99 on
// random subjects p0... and rules that move scores both ways.
func newBatch(rng *rand.Rand, name string, subjects int, at time.Time) *sentBatch {
	rules := []string{"blood-donation", "charity-donation", "volunteering", "littering", "unleashed-dog", "red-light"}
	b := &sentBatch{name: name}
	var rs []map[string]any
	for j := range 100 {
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

// storedKeys reads, on a connection of its own to the schema at db, the
// ids of the records stored under each key, checking that the keys table
// and the records table agree.
func storedKeys(t *testing.T, db string) map[string][]string {
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

// cluster is the PostgreSQL cluster 15/main, which serves the test
// database, driven with pg_ctlcluster.
type cluster struct {
	t          *testing.T
	host, port string
}

func newCluster(t *testing.T, db string) *cluster {
	t.Helper()
	for _, tool := range []string{"pg_ctlcluster", "pg_isready"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s=1 but %v: the test crashes PostgreSQL with pg_ctlcluster", envCrash, err)
		}
	}
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, host: u.Hostname(), port: u.Port()}
	if c.port == "" {
		c.port = "5432"
	}
	if !c.isReady() {
		t.Fatalf("PostgreSQL at %s:%s is not ready before the crash", c.host, c.port)
	}
	return c
}

// ctl runs pg_ctlcluster 15 main with args, failing the test if it fails.
func (c *cluster) ctl(args ...string) {
	c.t.Helper()
	out, err := exec.Command("pg_ctlcluster", append([]string{"15", "main"}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Errorf("pg_ctlcluster 15 main %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (c *cluster) isReady() bool {
	return exec.Command("pg_isready", "-q", "-h", c.host, "-p", c.port).Run() == nil
}

func (c *cluster) waitReady(limit time.Duration) bool { return waitFor(limit, c.isReady) }

// ensureRunning starts the cluster unless it runs, so that a test that
// failed while it was down does not leave it down.
func (c *cluster) ensureRunning() {
	if c.isReady() {
		return
	}
	if exec.Command("pg_ctlcluster", "15", "main", "status").Run() != nil {
		c.ctl("start")
	}
	if !c.waitReady(60 * time.Second) {
		c.t.Errorf("PostgreSQL at %s:%s is not ready 60 s after the test", c.host, c.port)
	}
}
