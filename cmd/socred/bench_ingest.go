package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/jackc/pgx/v5"

	"github.com/socred/socred"
	"github.com/socred/socred/loadgen"
	"github.com/socred/socred/service"
)

// benchRules are the Rongcheng rules the ingest benchmark reports (no
// joint liability, so every record is one row).
var benchRules = []struct {
	id     string
	points int64
}{{"blood-donation", 5}, {"charity-donation", 5}, {"volunteering", 3}, {"unleashed-dog", -5}, {"red-light", -5}, {"littering", -3}}

type benchRecord struct {
	key, subject, rule string
	points             int64
}

func benchIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("ingest", `Registers a population, then submits records over loopback HTTP in batches
(each batch one durable transaction) from several clients, and compares the
rate with a raw append of the same rows in the same batches: on SQLite
(WAL, synchronous=FULL) without and with the (reporter, key) unique index
that idempotency needs; on PostgreSQL (--db postgres://...) with COPY into
a table shaped like socred's records, and with several servers sharing the
database (--servers), the clients spread over them.
`)
	subjects := fs.Int("subjects", 100_000, "population size")
	records := fs.Int("records", 1_000_000, "records to submit")
	batch := fs.Int("batch", 1000, "records per request")
	clients := fs.Int("clients", 4, "concurrent clients")
	dbFlag := fs.String("db", "", "a postgres:// URL to measure PostgreSQL (a schema of its own is made and dropped); default: SQLite in the working directory")
	servers := fs.Int("servers", 1, "servers sharing the database (PostgreSQL)")
	dirFlag := fs.String("dir", "", "working directory (default: a temporary one under the current directory, removed after)")
	auditFlag := fs.String("audit", "on", "the audit log: on, off, both (off,on: its cost, in one run) or a list of runs such as on,off")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	modes, err := auditModes(*auditFlag)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitUsage
	}
	dir, cleanup, err := benchDir(*dirFlag, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer cleanup()
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- fixed-seed test data, the same every run; not a secret
	recs := make([]benchRecord, *records)
	for i := range recs {
		r := benchRules[rng.IntN(len(benchRules))]
		recs[i] = benchRecord{key: fmt.Sprintf("bench-%09d", i), subject: subjectID(rng.IntN(*subjects)), rule: r.id, points: r.points}
	}
	occurred := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	fmt.Fprintf(stdout, "ingest: %d records for %d subjects, batches of %d, %d clients\n", *records, *subjects, *batch, *clients)

	var rawRate float64
	if isPostgres(*dbFlag) {
		rate, err := rawCopy(ctx, *dbFlag, recs, *batch, occurred)
		if err != nil {
			fmt.Fprintln(stderr, "socred bench: raw COPY:", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "  %-44s %9.0f rows/s\n", "raw PostgreSQL COPY, (subject, id) key", rate)
		rawRate = rate
	} else {
		for _, indexed := range []bool{false, true} {
			rate, err := rawAppend(ctx, filepath.Join(dir, "raw-"+strconv.FormatBool(indexed)+".db"), recs, *batch, occurred, indexed)
			if err != nil {
				fmt.Fprintln(stderr, "socred bench: raw append:", err)
				return exitFail
			}
			what := "raw SQLite append, no index"
			if indexed {
				what = "raw SQLite append, (reporter, key) index"
			}
			fmt.Fprintf(stdout, "  %-44s %9.0f rows/s\n", what, rate)
			if !indexed {
				rawRate = rate
			}
		}
	}

	// The bodies are made once, outside the heap, and the records let go:
	// what stays in the process's heap while socred is measured is the
	// server's.
	n := len(recs)
	bodies, release, err := ingestBodies(recs, *batch, occurred)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer release()
	recs = nil
	runtime.GC()

	// Each run starts on a fresh database of its own, so that runs with
	// and without the audit log compare alike.
	for run, off := range modes {
		runDir := filepath.Join(dir, fmt.Sprintf("run%d", run))
		if err := os.MkdirAll(runDir, 0o750); err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		if code := ingestOn(ctx, *dbFlag, runDir, *servers, *subjects, *clients, bodies, n, rawRate, off, stdout, stderr); code != exitOK {
			return code
		}
	}
	return exitOK
}

// ingestOn starts servers on a fresh database, registers the population
// and submits the records.
func ingestOn(ctx context.Context, dbURL, dir string, servers, subjects, clients int, bodies [][]byte, n int, rawRate float64, auditOff bool, stdout, stderr io.Writer) int {
	db, dropDB, err := benchDatabase(ctx, dbURL, dir, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer dropDB()
	envs, stopServers, err := startServers(ctx, db, servers, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer stopServers()
	for _, e := range envs {
		e.srv.svc.SetAuditOff(auditOff)
	}
	env := envs[0]
	t := time.Now()
	if err := seedSubjects(ctx, env.srv.svc, env.admin, subjects, nil); err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	if err := caughtUp(ctx, envs); err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "  registered %d subjects in %s\n", subjects, since(t))
	tok, err := env.srv.svc.CreateToken(ctx, env.admin, service.TokenInput{Role: socred.RoleAuthority, Authority: "rongcheng-credit-office", Name: "bench reporter"})
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	return ingestRun(ctx, envs, clients, tok.Token, bodies, n, rawRate, auditOff, stdout, stderr)
}

// ingestBodies makes the request bodies, batch records each. They are
// held outside the Go heap: a server does not hold its clients' requests,
// and hundreds of megabytes of them in its heap would have the collector,
// at the server's GOGC, let the heap grow by five times as much, every
// page of it touched for the first time during the measurement.
func ingestBodies(recs []benchRecord, batch int, occurred time.Time) ([][]byte, func(), error) {
	at := occurred.Format(time.RFC3339)
	appendBody := func(b []byte, recs []benchRecord) []byte {
		b = append(b, `{"records":[`...)
		for j, r := range recs {
			if j > 0 {
				b = append(b, ',')
			}
			k, _ := json.Marshal(r.key)
			b = fmt.Appendf(b, `{"key":%s,"subject":"%s","scheme":"rongcheng","rule":"%s","occurred_at":"%s","evidence":"bench report %s"}`, k, r.subject, r.rule, at, r.key)
		}
		return append(b, `]}`...)
	}
	var buf []byte
	size := 0
	for i := 0; i < len(recs); i += batch {
		buf = appendBody(buf[:0], recs[i:min(i+batch, len(recs))])
		size += len(buf)
	}
	all, release, err := offHeap(size)
	if err != nil {
		return nil, nil, fmt.Errorf("request bodies: %w", err)
	}
	var bodies [][]byte
	for i := 0; i < len(recs); i += batch {
		b := appendBody(all[:0:len(all)], recs[i:min(i+batch, len(recs))])
		if len(b) > 0 && &b[0] != &all[0] {
			release()
			return nil, nil, fmt.Errorf("request bodies: batch %d outgrew its measured size", i/batch)
		}
		bodies = append(bodies, b[:len(b):len(b)])
		all = all[len(b):]
	}
	return bodies, release, nil
}

// ingestRun submits the batches and prints the rate.
func ingestRun(ctx context.Context, envs []*benchEnv, clients int, token string, bodies [][]byte, n int, rawRate float64, auditOff bool, stdout, stderr io.Writer) int {
	stopProfile, err := profile(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	var next atomic.Int64
	res, err := loadgen.Run(ctx, loadgen.Config{
		URLs: urls(envs), Connections: clients,
		Next: func(c, i int) loadgen.Request {
			n := next.Add(1) - 1
			if n >= int64(len(bodies)) {
				return loadgen.Request{}
			}
			return loadgen.Request{Method: "POST", Path: "/v1/records", Token: token, Body: bodies[n]}
		},
	})
	stopProfile()
	if err != nil || res.Errors > 0 {
		fmt.Fprintf(stderr, "socred bench: ingest: %v (%d errors)\n", err, res.Errors)
		return exitFail
	}
	rate := float64(n) / res.Elapsed.Seconds()
	what := "socred over HTTP"
	if len(envs) > 1 {
		what = fmt.Sprintf("socred over HTTP, %d servers", len(envs))
	}
	if auditOff {
		what += ", audit log off"
	}
	cpu := ""
	if res.CPU > 0 {
		// The whole process: server, load generator and background work.
		cpu = fmt.Sprintf("; CPU %.2f cores, %.1f µs a record", res.CPU.Seconds()/res.Elapsed.Seconds(), float64(res.CPU.Nanoseconds())/1e3/float64(n))
	}
	if m := res.MachineCores(); m != "" {
		cpu += "; " + m
	}
	fmt.Fprintf(stdout, "  %-44s %9.0f records/s (%d batches in %s; batch latency p50 %s, p99 %s%s)\n", what, rate, len(bodies),
		res.Elapsed.Round(time.Millisecond), res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), cpu)
	fmt.Fprintf(stdout, "  %-44s %9.2f\n", "socred / raw append", rate/rawRate)
	return exitOK
}

// rawAppend appends the records to a fresh SQLite table shaped like
// socred's records table, batch rows per durable transaction (WAL,
// synchronous=FULL), with the direct API and statements the store uses,
// and returns rows per second.
func rawAppend(ctx context.Context, path string, recs []benchRecord, batch int, occurred time.Time, indexed bool) (float64, error) {
	conn, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate|sqlite.OpenWAL)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := sqlitex.Execute(conn, "PRAGMA synchronous = FULL", nil); err != nil {
		return 0, err
	}
	schema := `CREATE TABLE records (id INTEGER PRIMARY KEY, reporter TEXT NOT NULL, key TEXT,
		subject TEXT NOT NULL, scheme TEXT NOT NULL, rule TEXT NOT NULL, points INTEGER NOT NULL, occurred_at INTEGER NOT NULL,
		counts_until INTEGER NOT NULL, evidence TEXT NOT NULL, derived_from INTEGER, derived_subject TEXT, derived_relation TEXT,
		accepted_at INTEGER NOT NULL, overturned_at INTEGER);`
	if indexed {
		schema += `CREATE UNIQUE INDEX records_key ON records (reporter, key) WHERE key IS NOT NULL;`
	}
	if err := sqlitex.ExecuteScript(conn, schema, nil); err != nil {
		return 0, err
	}
	const perStmt = 64
	insert := func(n int) string {
		return `INSERT INTO records (id, reporter, key, subject, scheme, rule, points, occurred_at, counts_until, evidence,
			derived_from, derived_subject, derived_relation, accepted_at) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
	}
	many, one := insert(perStmt), insert(1)
	occ, until := occurred.UnixMicro(), occurred.AddDate(1, 0, 0).UnixMicro()
	start := time.Now()
	for i := 0; i < len(recs); i += batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := sqlitex.Execute(conn, "BEGIN IMMEDIATE", nil); err != nil {
			return 0, err
		}
		part := recs[i:min(i+batch, len(recs))]
		for j := 0; j < len(part); {
			stmt, n := conn.Prep(many), perStmt
			if len(part)-j < perStmt {
				stmt, n = conn.Prep(one), 1
			}
			for k, r := range part[j : j+n] {
				o := k * 14
				stmt.BindInt64(o+1, int64(i+j+k+1))
				stmt.BindText(o+2, "rongcheng-credit-office")
				stmt.BindText(o+3, r.key)
				stmt.BindText(o+4, r.subject)
				stmt.BindText(o+5, "rongcheng")
				stmt.BindText(o+6, r.rule)
				stmt.BindInt64(o+7, r.points)
				stmt.BindInt64(o+8, occ)
				stmt.BindInt64(o+9, until)
				stmt.BindText(o+10, "bench report "+r.key)
				stmt.BindNull(o + 11)
				stmt.BindNull(o + 12)
				stmt.BindNull(o + 13)
				stmt.BindInt64(o+14, time.Now().UnixMicro())
			}
			if _, err := stmt.Step(); err != nil {
				return 0, err
			}
			if err := stmt.Reset(); err != nil {
				return 0, err
			}
			j += n
		}
		if err := sqlitex.Execute(conn, "COMMIT", nil); err != nil {
			return 0, err
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds(), nil
}

// rawCopy copies the records into a fresh table shaped like socred's
// records table on PostgreSQL, keyed (subject, id), one COPY per batch in
// its own transaction, and returns rows per second.
func rawCopy(ctx context.Context, url string, recs []benchRecord, batch int, occurred time.Time) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP TABLE IF EXISTS socred_bench_raw;
		CREATE TABLE socred_bench_raw (id BIGINT NOT NULL, reporter TEXT NOT NULL, key TEXT,
		subject TEXT NOT NULL, scheme TEXT NOT NULL, rule TEXT NOT NULL, points BIGINT NOT NULL, occurred_at BIGINT NOT NULL,
		counts_until BIGINT NOT NULL, evidence TEXT NOT NULL, derived_from BIGINT, derived_subject TEXT, derived_relation TEXT,
		accepted_at BIGINT NOT NULL, overturned_at BIGINT, PRIMARY KEY (subject, id))`)
	if err != nil {
		return 0, err
	}
	defer conn.Exec(context.Background(), `DROP TABLE socred_bench_raw`)
	cols := []string{"id", "reporter", "key", "subject", "scheme", "rule", "points", "occurred_at", "counts_until", "evidence", "accepted_at"}
	occ, until := occurred.UnixMicro(), occurred.AddDate(1, 0, 0).UnixMicro()
	start := time.Now()
	for i := 0; i < len(recs); i += batch {
		part := recs[i:min(i+batch, len(recs))]
		rows := make([][]any, len(part))
		for k, r := range part {
			rows[k] = []any{int64(i + k + 1), "rongcheng-credit-office", r.key, r.subject, "rongcheng", r.rule, r.points, occ, until, "bench report " + r.key, time.Now().UnixMicro()}
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"socred_bench_raw"}, cols, pgx.CopyFromRows(rows)); err != nil {
			tx.Rollback(ctx) // #nosec G104 -- already failing; a failed rollback closes the connection
			return 0, err
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, err
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds(), nil
}
