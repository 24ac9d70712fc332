package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// runBench measures socred: "socred bench ingest|checks|startup", and
// "socred bench load", the checks benchmark's load process.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprint(w, `usage: socred bench ingest|checks|startup [flags]

Measures socred on this machine, each figure beside a baseline measured in
the same run with the same load:

  ingest   records/s submitted over HTTP in durable batches, against a raw
           SQLite append of the same rows
  checks   checks/s over loopback HTTP (each logged durably) with a large
           population loaded, against a bare net/http JSON handler
  startup  time from start to serving, and resident memory, with a large
           database
  load     the checks benchmark's load generator, in the process that
           "checks" starts for it

Run "socred bench NAME --help" for the flags of one.
`)
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	// The servers measured in-process run with the collector's settings
	// of socred serve.
	switch args[0] {
	case "ingest", "checks":
		tuneGC(slog.New(slog.DiscardHandler))
	}
	switch args[0] {
	case "ingest":
		return benchIngest(ctx, args[1:], stdout, stderr)
	case "checks":
		return benchChecks(ctx, args[1:], stdout, stderr)
	case "load":
		return benchLoad(ctx, args[1:], stdout, stderr)
	case "startup":
		return benchStartup(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "socred bench: unknown benchmark %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// auditModes reads --audit: whether each socred run, in order, has the
// audit log off. "both" is "off,on".
func auditModes(s string) ([]bool, error) {
	if s == "both" {
		s = "off,on"
	}
	var modes []bool
	for _, m := range strings.Split(s, ",") {
		switch m {
		case "on":
			modes = append(modes, false)
		case "off":
			modes = append(modes, true)
		default:
			return nil, fmt.Errorf("--audit: want on, off, both or a list such as on,off, not %q", s)
		}
	}
	return modes, nil
}

// benchEnv is a socred server started for a benchmark.
type benchEnv struct {
	srv   *server
	admin *socred.Caller
	token string // the admin token
	done  chan error
	stop  context.CancelFunc
}

const benchAdmin = "sct_bench-admin"

// startBench opens (or creates) the database db (a SQLite path or a
// PostgreSQL URL) and serves it on a free loopback port. Logs below warn
// level are dropped.
func startBench(ctx context.Context, db string, stderr io.Writer) (*benchEnv, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := &serverConfig{addr: "127.0.0.1:0", db: db, timeouts: defaultTimeouts}
	p, err := c.loadPack(stderr)
	if err != nil {
		return nil, err
	}
	srv, err := openServer(ctx, c, log, p, benchAdmin)
	if err != nil {
		return nil, err
	}
	if err := srv.listen(c.addr); err != nil {
		return nil, err
	}
	e := &benchEnv{srv: srv, token: benchAdmin, done: make(chan error, 1)}
	if e.admin, err = srv.svc.Authenticate(ctx, benchAdmin); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	go func() { e.done <- srv.serve(sctx) }()
	e.stop = cancel
	return e, nil
}

func (e *benchEnv) close() error {
	e.stop()
	return <-e.done
}

// benchDatabase returns the database a benchmark runs on: a fresh schema
// in the PostgreSQL database at url, dropped by cleanup, or else the SQLite
// file socred.db in dir. A schema cleanup fails to drop is reported to
// stderr.
func benchDatabase(ctx context.Context, url, dir string, stderr io.Writer) (db string, cleanup func(), err error) {
	if !isPostgres(url) {
		return filepath.Join(dir, "socred.db"), func() {}, nil
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "socred_bench_" + hex.EncodeToString(b)
	if err := pgExec(ctx, url, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := neturl.Parse(url)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if err := pgExec(context.Background(), url, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(stderr, "socred bench: drop schema %s: %v\n", schema, err)
		}
	}, nil
}

// pgExec runs sql on a connection of its own to the database at url.
func pgExec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// startServers starts n servers on db. The first is the one to seed
// through; the others catch up from the change feed.
func startServers(ctx context.Context, db string, n int, stderr io.Writer) ([]*benchEnv, func(), error) {
	var envs []*benchEnv
	stop := func() {
		for _, e := range envs {
			if err := e.close(); err != nil {
				fmt.Fprintln(stderr, "socred bench: server:", err)
			}
		}
	}
	for range max(n, 1) {
		e, err := startBench(ctx, db, stderr)
		if err != nil {
			stop()
			return nil, nil, err
		}
		envs = append(envs, e)
	}
	return envs, stop, nil
}

// caughtUp waits until every server knows the first one's population.
func caughtUp(ctx context.Context, envs []*benchEnv) error {
	want := envs[0].srv.svc.Population()
	for _, e := range envs[1:] {
		for e.srv.svc.Population() != want {
			if _, err := e.srv.svc.Follow(ctx); err != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// urls returns the servers' base URLs.
func urls(envs []*benchEnv) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.srv.URL())
	}
	return out
}

// benchDir returns dir, or a new temporary directory removed by cleanup;
// a failed removal is reported to stderr.
func benchDir(dir string, stderr io.Writer) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o750)
	}
	d, err := os.MkdirTemp(".", "bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() {
		if err := os.RemoveAll(d); err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
		}
	}, nil
}

// subjectID is the id of the i-th benchmark subject: zero-padded, so that
// subjects are stored in key order.
func subjectID(i int) string { return "s" + fmt.Sprintf("%08d", i) }

// seedSubjects registers n persons in Rongcheng in batches.
func seedSubjects(ctx context.Context, svc *service.Service, admin *socred.Caller, n int, progress func(done int)) error {
	const batch = 20_000
	for i := 0; i < n; i += batch {
		subs := make([]*socred.Subject, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			subs = append(subs, &socred.Subject{ID: subjectID(j), Kind: socred.Person, Name: "Resident " + strconv.Itoa(j), Region: "rongcheng", Groups: []string{}})
		}
		if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
			return err
		}
		if progress != nil {
			progress(min(i+batch, n))
		}
	}
	return nil
}

func benchFlags(name, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the socred measurement to this file")
	fs.StringVar(&traceFile, "trace", "", "write an execution trace of the socred measurement to this file")
	fs.StringVar(&memProfile, "memprofile", "", "write what was allocated up to the socred measurement to FILE.start and up to its end to FILE (go tool pprof -sample_index=alloc_space -base FILE.start FILE)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: socred bench %s [flags]\n\n%s\nFlags:\n", name, doc)
		fs.PrintDefaults()
	}
	return fs
}

// cpuProfile, memProfile and traceFile are the --cpuprofile, --memprofile
// and --trace files of the running benchmark.
var cpuProfile, memProfile, traceFile string

// profile starts a CPU profile when --cpuprofile was given and returns the
// function that stops it, which reports a file it fails to write to stderr.
func profile(stderr io.Writer) (func(), error) {
	stops := []func(){}
	stop := func() {
		for _, fn := range stops {
			fn()
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile) // #nosec G304 -- the --cpuprofile file the operator names
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, errors.Join(err, f.Close())
		}
		stops = append(stops, func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(stderr, "socred bench: --cpuprofile:", err)
			}
		})
	}
	if memProfile != "" {
		// What the measurement allocated is the difference of two
		// profiles: go tool pprof -base FILE.start FILE.
		if err := writeAllocs(memProfile + ".start"); err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() {
			if err := writeAllocs(memProfile); err != nil {
				fmt.Fprintln(stderr, "socred bench: --memprofile:", err)
			}
		})
	}
	if traceFile != "" {
		f, err := os.Create(traceFile) // #nosec G304 -- the --trace file the operator names
		if err != nil {
			stop()
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			stop()
			return nil, errors.Join(err, f.Close())
		}
		stops = append(stops, func() {
			trace.Stop()
			if err := f.Close(); err != nil {
				fmt.Fprintln(stderr, "socred bench: --trace:", err)
			}
		})
	}
	return stop, nil
}

// writeAllocs writes the allocations made so far, as a heap profile, to
// file.
func writeAllocs(file string) error {
	runtime.GC()              // a heap profile counts allocations up to the last collection
	f, err := os.Create(file) // #nosec G304 -- the --memprofile file the operator names
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}

func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }
