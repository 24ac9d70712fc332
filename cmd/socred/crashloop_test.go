package main_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred/postgres/postgrestest"
)

// The crash loop's flags: go test ./cmd/socred -run TestCrashLoopSQLite
// -crashloop.seed 7 replays seed 7, which fails with that command. A seed
// fixes what the loop draws (the clients, the batches, how long into the
// ingest each crash comes and, on PostgreSQL, which process it kills), not
// how the processes are scheduled: a replay makes the same crashes, at
// moments as near as timing allows.
var (
	crashSeeds   = flag.Int("crashloop.seeds", 20, "how many seeds (1 to N) the crash loop tests run (with -short and without this flag, 5)")
	crashSeed    = flag.Uint64("crashloop.seed", 0, "run the crash loop tests on this seed only, to replay a failure")
	crashCrashes = flag.Int("crashloop.crashes", 0, "how many crashes each seed makes (default 2 on SQLite, 1 on PostgreSQL, whose crashes cost more)")
)

// crashesPerSeed is how many times a seed crashes its server and starts
// it again: -crashloop.crashes, or def. The defaults keep the 20 seeds of
// both tests within about two minutes on a machine of two cores.
func crashesPerSeed(def int) int {
	if *crashCrashes > 0 {
		return *crashCrashes
	}
	return def
}

// shortCrashSeeds is how many seeds the crash loops run with -short.
const shortCrashSeeds = 5

// flagSet says whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// crashSubjects is how many subjects a seed files records on.
const crashSubjects = 10

// TestCrashLoopSQLite runs a server on a SQLite database, ingests batches
// with clients that record every acknowledgement, kills the server with
// SIGKILL at a moment drawn from the seed, starts it again and checks the
// database: every acknowledged record stored exactly once with the id it
// was acknowledged with, every batch stored whole or not at all, PRAGMA
// integrity_check ok and socred audit verify --db green. Each seed draws
// the number of clients, the batch sizes and how many batches are
// acknowledged before the kill.
func TestCrashLoopSQLite(t *testing.T) {
	t.Parallel() // beside TestCrashLoopPostgres, which waits for PostgreSQL more than it works
	forEachCrashSeed(t, func(t *testing.T, seed uint64) {
		db := filepath.Join(t.TempDir(), "socred.db")
		l := newCrashLoop(t, seed, db)
		for iter := range crashesPerSeed(2) {
			in := l.ingest(iter)
			l.s.kill()
			in.finish()
			sqliteIntegrity(t, db)
			l.verifyAudit()
			l.check(in)
			l.s = startServer(t, db)
			l.checkFiles()
			l.replayAcked()
		}
		l.s.stop()
		sqliteIntegrity(t, db)
		l.verifyAudit()
		l.check(nil)
	})
}

// TestCrashLoopPostgres is TestCrashLoopSQLite on PostgreSQL, on a server
// of its own that it may crash: each crash either kills socred with
// SIGKILL, and starts it again, or stops PostgreSQL with pg_ctl stop -m
// immediate, and starts it again under the socred server that lives
// through it, as the seed draws. Instead of an integrity check, it reads
// every table whole, counts the records and their keys by an index too,
// and checks that every key row has its record and every record its key.
func TestCrashLoopPostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(postgrestest.EnvURL) == "" {
		t.Skip(postgrestest.EnvURL + " is not set: the PostgreSQL crash loop starts a PostgreSQL 15 server of its own " +
			"and runs where " + postgrestest.EnvURL + " says the machine has PostgreSQL; .ci/run sets it")
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Skipf("the PostgreSQL crash loop starts a PostgreSQL 15 server of its own and needs its programs in %s: %v", pgBin, err)
	}
	shared := startPostgres(t)
	// Each seed's database is a copy of one a server has migrated, which
	// is quicker than migrating it.
	template := shared.newDatabase("crash_template", "")
	startServer(t, template).stop()
	forEachCrashSeed(t, func(t *testing.T, seed uint64) {
		pg := shared.in(t)
		db := pg.newDatabase(fmt.Sprintf("crash_seed_%d", seed), "crash_template")
		l := newCrashLoop(t, seed, db)
		for iter := range crashesPerSeed(1) {
			in := l.ingest(iter)
			killServer := l.rng.IntN(2) == 0
			if killServer {
				l.s.kill()
			} else {
				pg.crash()
			}
			in.finish()
			if killServer {
				l.s = startServer(t, db)
				t.Logf("crash %d: socred killed and started again", iter+1)
			} else {
				pg.start()
				if !pg.waitReady(60 * time.Second) {
					t.Fatalf("PostgreSQL is not ready 60 s after pg_ctl start:\n%s", pg.log())
				}
				t.Logf("crash %d: PostgreSQL stopped -m immediate and started again", iter+1)
			}
			// PostgreSQL lets the checks run beside the server.
			readTables(t, db)
			l.verifyAudit()
			l.check(in)
			l.checkFiles()
			l.replayAcked()
		}
		l.s.stop()
		l.verifyAudit()
		l.check(nil)
	})
}

// forEachCrashSeed runs run on seeds 1 to -crashloop.seeds, or on
// -crashloop.seed alone, each in a subtest that prints how to replay it
// when it fails.
func forEachCrashSeed(t *testing.T, run func(t *testing.T, seed uint64)) {
	n := *crashSeeds
	if testing.Short() && !flagSet("crashloop.seeds") {
		// -short is the race detector's run in CI: a few seeds find a
		// race as well as many, and the full run has crashed 20 already.
		n = shortCrashSeeds
	}
	seeds := make([]uint64, 0, n)
	if *crashSeed != 0 {
		seeds = append(seeds, *crashSeed)
	} else {
		for seed := range uint64(n) {
			seeds = append(seeds, seed+1)
		}
	}
	name := t.Name()
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Cleanup(func() {
				if !t.Failed() {
					return
				}
				env := ""
				if strings.Contains(name, "Postgres") {
					// The test only needs the variable set: it runs a
					// PostgreSQL server of its own.
					env = postgrestest.EnvURL + "=" + shellQuote(redacted(os.Getenv(postgrestest.EnvURL))) + " "
				}
				t.Logf("%s failed on seed %d; replay it with:\n\t%sgo test ./cmd/socred -run '^%s$' -crashloop.seed %d -v",
					name, seed, env, name, seed)
			})
			run(t, seed)
		})
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// redacted is the URL u without its password.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "set"
}

// crashLoop is one seed's run: a database, the server on it, and every
// batch sent to it so far.
type crashLoop struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	db   string
	s    *server
	city string // the authority's token, which submits the records
	// gate is a provider's token, which checks beside the ingest.
	gate string
	// clients submit batches at once; maxBatch bounds a batch's size.
	clients, maxBatch int
	at                time.Time // when the records happened
	// sent are the batches of every crash so far.
	sent []*sentBatch
	// checks are the purposes of every check sent so far, each sent
	// once, with whether it was acknowledged.
	checks map[string]bool
}

// newCrashLoop starts a server on db, draws the seed's parameters and
// makes the subjects and the authority's token.
func newCrashLoop(t *testing.T, seed uint64, db string) *crashLoop {
	l := &crashLoop{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x63726173)), db: db, at: time.Now().UTC().Add(-time.Hour)}
	l.clients = 1 + l.rng.IntN(3)
	l.maxBatch = []int{1, 10, 50, 200}[l.rng.IntN(4)]
	l.s = startServer(t, db)
	l.city = l.s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	l.gate = l.s.token(map[string]any{"role": "provider", "name": "railway gate"})
	l.checks = map[string]bool{}
	for i := range crashSubjects {
		l.s.must(201, "PUT", "/v1/subjects/p"+strconv.Itoa(i), l.city, map[string]any{"kind": "person", "name": "P", "region": "rongcheng"})
	}
	t.Logf("seed %d: %d clients, batches of 1 to %d records", seed, l.clients, l.maxBatch)
	return l
}

// ingestRun is one crash's ingest: clients submitting batches until told
// to stop.
type ingestRun struct {
	mu       sync.Mutex
	sent     []*sentBatch
	acked    int
	failures map[string]int // failed submissions by status or "error"
	// checks are the purposes of the checks sent, with whether each was
	// acknowledged.
	checks map[string]bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// ingest starts the clients of crash iter and returns once the moment to
// crash has come: when the server has acknowledged as many batches as the
// seed draws, and then as many milliseconds more. The clients go on
// submitting, after failures too, until finish.
func (l *crashLoop) ingest(iter int) *ingestRun {
	t := l.t
	wantAcks := 1 + l.rng.IntN(12)
	extra := time.Duration(l.rng.IntN(40)) * time.Millisecond
	in := &ingestRun{failures: map[string]int{}, stop: make(chan struct{}), checks: map[string]bool{}}
	// A provider checks beside the clients, each check with a purpose of
	// its own, so that the database can be searched for it.
	in.wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-in.stop:
				return
			default:
			}
			purpose := fmt.Sprintf("i%d-q%d", iter, n)
			in.mu.Lock()
			in.checks[purpose] = false
			in.mu.Unlock()
			r, err := l.s.tryCall("POST", "/v1/checks", l.gate, map[string]any{"subject": "p" + strconv.Itoa(n%crashSubjects), "action": "ride-high-speed-train", "purpose": purpose})
			if err != nil || r.status != 200 {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			in.mu.Lock()
			in.checks[purpose] = true
			in.mu.Unlock()
		}
	})
	for c := range l.clients {
		rng := rand.New(rand.NewPCG(l.seed, uint64(iter)<<8|uint64(c)))
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-in.stop:
					return
				default:
				}
				b := newBatch(rng, fmt.Sprintf("i%d-c%d-b%d", iter, c, n), 1+rng.IntN(l.maxBatch), crashSubjects, l.at)
				in.mu.Lock()
				in.sent = append(in.sent, b)
				in.mu.Unlock()
				r, err := submit(l.s, l.city, b.body)
				in.mu.Lock()
				switch {
				case err != nil:
					in.failures["error"]++
				case r.status != 200:
					in.failures[strconv.Itoa(r.status)]++
					if r.status < 500 && r.status != 429 {
						t.Errorf("batch %s: %d: %s", b.name, r.status, r.body)
					}
				default:
					b.ids, err = acceptedIDs(r)
					if err != nil {
						t.Errorf("batch %s: %v", b.name, err)
					}
					in.acked++
				}
				in.mu.Unlock()
				if b.ids == nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	acked := func() int {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.acked
	}
	if !waitFor(20*time.Second, func() bool { return acked() >= wantAcks }) {
		in.finish()
		t.Fatalf("crash %d: the server acknowledged %d batches in 20 s, want %d before the crash; failed submissions %v:\n%s",
			iter+1, acked(), wantAcks, in.failures, tail(l.s.logs.String(), 40))
	}
	time.Sleep(extra)
	l.t.Logf("crash %d after %d acknowledged batches and %s more", iter+1, wantAcks, extra)
	return in
}

// finish stops the clients and waits for them.
func (in *ingestRun) finish() {
	select {
	case <-in.stop:
	default:
		close(in.stop)
	}
	in.wg.Wait()
}

// check reads the database and checks every batch sent so far, adding in's
// batches to them: each record of an acknowledged batch is stored once,
// with the id the server gave it; each batch is stored whole or not at
// all; and nothing else is stored under a key.
func (l *crashLoop) check(in *ingestRun) {
	t := l.t
	t.Helper()
	if in != nil {
		l.sent = append(l.sent, in.sent...)
		acked := 0
		for purpose, ok := range in.checks {
			l.checks[purpose] = ok
			if ok {
				acked++
			}
		}
		t.Logf("%d batches sent, %d acknowledged; failed submissions: %v; %d checks sent, %d acknowledged", len(in.sent), in.acked, in.failures, len(in.checks), acked)
	}
	stored := storedKeys(t, l.db)
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	// Every acknowledged check is logged once; none is logged twice, or
	// without having been sent.
	checks := storedChecks(t, l.db)
	for purpose, n := range checks {
		acked, sent := l.checks[purpose]
		switch {
		case !sent:
			report("check %s is logged but was never sent", purpose)
		case n > 1:
			report("check %s (acknowledged: %t) is logged %d times", purpose, acked, n)
		}
	}
	for purpose, acked := range l.checks {
		if acked && checks[purpose] == 0 {
			report("acknowledged check %s is not logged", purpose)
		}
	}
	keys := 0
	for _, b := range l.sent {
		n := 0
		for _, k := range b.keys {
			ids := stored[k]
			if len(ids) > 1 {
				report("record %s is stored %d times: ids %v", k, len(ids), ids)
			}
			if len(ids) > 0 {
				n++
			}
			if b.ids != nil && (len(ids) != 1 || ids[0] != b.ids[k]) {
				report("acknowledged record %s (id %s) is stored with ids %v", k, b.ids[k], ids)
			}
		}
		if n != 0 && n != len(b.keys) {
			report("batch %s (acknowledged: %t) is stored in part: %d of its %d records", b.name, b.ids != nil, n, len(b.keys))
		}
		keys += len(b.keys)
	}
	if len(stored) > keys {
		sentKeys := make(map[string]bool, keys)
		for _, b := range l.sent {
			for _, k := range b.keys {
				sentKeys[k] = true
			}
		}
		for k := range stored {
			if !sentKeys[k] {
				report("record %s is stored but was never sent", k)
			}
		}
	}
	slices.Sort(problems)
	for i, p := range problems {
		if i == 10 {
			t.Errorf("... and %d more problems", len(problems)-i)
			break
		}
		t.Error(p)
	}
}

// verifyAudit runs socred audit verify --db on the loop's database.
func (l *crashLoop) verifyAudit() {
	l.t.Helper()
	out, errOut, code := socred(l.t, "audit", "verify", "--db", l.db)
	if code != 0 || !strings.Contains(out, "audit log verified") {
		l.t.Errorf("socred audit verify --db: exit %d\n%s%s", code, out, errOut)
	}
}

// checkFiles checks that the server, started again or living through a
// crash of PostgreSQL, files as many records on the subjects as the
// database holds under a key.
func (l *crashLoop) checkFiles() {
	t := l.t
	t.Helper()
	want := len(storedKeys(t, l.db))
	got := 0
	for i := range crashSubjects {
		f := l.s.must(200, "GET", "/v1/subjects/p"+strconv.Itoa(i)+"/file", adminToken, nil).json(t)
		got += len(f["records"].([]any))
	}
	if got != want {
		t.Errorf("after the restart the subjects' files hold %d records; the database holds %d", got, want)
	}
}

// replayAcked submits a batch the server acknowledged before the crash
// again, drawn from the seed: each of its records is a duplicate with the
// id it was acknowledged with.
func (l *crashLoop) replayAcked() {
	t := l.t
	t.Helper()
	var acked []*sentBatch
	for _, b := range l.sent {
		if b.ids != nil {
			acked = append(acked, b)
		}
	}
	if len(acked) == 0 {
		return
	}
	b := acked[l.rng.IntN(len(acked))]
	// The server that lived through a PostgreSQL crash may meet a
	// connection the crash broke: it answers 500 and drops it.
	var r reply
	waitFor(10*time.Second, func() bool {
		var err error
		r, err = submit(l.s, l.city, b.body)
		return err == nil && r.status < 500
	})
	if r.status != 200 {
		t.Fatalf("replay of acknowledged batch %s: %d: %s\n%s", b.name, r.status, r.body, tail(l.s.logs.String(), 20))
	}
	for _, rec := range r.json(t)["records"].([]any) {
		rec := rec.(map[string]any)
		if rec["status"] != "duplicate" || rec["id"] != b.ids[rec["key"].(string)] {
			t.Errorf("replay of acknowledged batch %s: record %v is %v with id %v, want a duplicate with id %s",
				b.name, rec["key"], rec["status"], rec["id"], b.ids[rec["key"].(string)])
		}
	}
}

// readTables reads every table of the PostgreSQL database at db whole,
// and counts the records and their keys both by a sequential scan and by
// an index, which must agree.
func readTables(t *testing.T, db string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT format('(SELECT count(*) FROM %I.%I)', schemaname, tablename) FROM pg_tables WHERE schemaname = current_schema()`)
	counts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(counts) == 0 {
		t.Fatalf("list the tables: %v %v", counts, err)
	}
	if _, err := conn.Exec(ctx, `SELECT `+strings.Join(counts, ", ")); err != nil {
		t.Errorf("read every table: %v", err)
	}
	const both = `SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM record_keys)`
	var seq, idx [2]int64
	err = conn.QueryRow(ctx, both).Scan(&seq[0], &seq[1])
	for _, set := range []string{`SET enable_seqscan = off`, `SET enable_bitmapscan = off`} {
		if err == nil {
			_, err = conn.Exec(ctx, set)
		}
	}
	if err == nil {
		err = conn.QueryRow(ctx, both).Scan(&idx[0], &idx[1])
	}
	if err != nil || seq != idx {
		t.Errorf("records and record_keys: %v rows by a sequential scan, %v by an index: %v", seq, idx, err)
	}
}

// in returns p for the test t, which may be a subtest of the one that
// started it: its methods fail t.
func (p *privatePostgres) in(t *testing.T) *privatePostgres {
	q := *p
	q.t = t
	return &q
}

// newDatabase creates the database name on the server, a copy of the
// database template unless that is empty, and returns its URL.
func (p *privatePostgres) newDatabase(name, template string) string {
	p.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name); err != nil {
		p.t.Fatal(err)
	}
	create := `CREATE DATABASE ` + name
	if template != "" {
		create += ` TEMPLATE ` + template
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		p.t.Fatal(err)
	}
	return strings.Replace(p.url, "/postgres?", "/"+name+"?", 1)
}
