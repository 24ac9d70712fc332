package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/loadgen"
	"github.com/socred/socred/service"
)

// checkActions are the actions the checks benchmark asks about: the
// Rongcheng blacklist restricts the first two.
var checkActions = []string{"ride-high-speed-train", "buy-luxury-goods", "buy-flight-ticket", "stay-star-hotel"}

func benchChecks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("checks", `Loads a population with many listings, then has providers check random
subjects and actions over loopback HTTP on many connections (each check
logged durably before it is answered), and compares the rate and latency
with a bare net/http handler that decodes the same JSON and answers a fixed
decision, driven by the same load generator in the same run (by default
a process of its own, as clients are). With --db
postgres://... it runs on PostgreSQL, with --servers sharing the database
and the connections spread over them.
`)
	subjects := fs.Int("subjects", 1_000_000, "population size")
	listings := fs.Int("listings", 100_000, "subjects put on the Rongcheng blacklist (by a loan default each)")
	connections := fs.Int("connections", 64, "concurrent connections")
	duration := fs.Duration("duration", 20*time.Second, "how long to measure each server")
	warmup := fs.Duration("warmup", 3*time.Second, "load before measuring")
	dirFlag := fs.String("dir", "", "working directory; a database already there is reused (default: a temporary one, removed after)")
	dbFlag := fs.String("db", "", "a postgres:// URL to measure PostgreSQL (a schema of its own is made and dropped); default: SQLite in the working directory")
	servers := fs.Int("servers", 1, "servers sharing the database (PostgreSQL)")
	auditFlag := fs.String("audit", "on", "the audit log: on, off, both (off,on: its cost, in one run) or a list of runs such as on,off")
	loadIn := fs.String("load", "process", "where the load generator runs: process (a process of its own, as clients would) or inline (in the servers' process, sharing its scheduler)")
	loadProcs := fs.Int("load-procs", 0, "GOMAXPROCS of the load process (with --load process); 0: Go's default, every core")
	rounds := fs.Int("rounds", 1, "measure the bare handler and socred in turn this many times, each for --duration, and report each round and all together (on a shared machine, alternating evens out its swings)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *loadIn != "process" && *loadIn != "inline" {
		fmt.Fprintln(stderr, "socred bench: --load: process or inline")
		return exitUsage
	}
	if *loadProcs < 0 {
		fmt.Fprintln(stderr, "socred bench: --load-procs: 0 or more")
		return exitUsage
	}
	if *rounds < 1 {
		fmt.Fprintln(stderr, "socred bench: --rounds: at least 1")
		return exitUsage
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

	cl := checkLoad{subjects: *subjects, connections: *connections, duration: *duration, warmup: *warmup, procs: *loadProcs}
	var bodies [][]byte
	if *loadIn == "inline" {
		bodies = cl.bodies()
	}
	load := func(urls []string, token string) (loadgen.Result, error) {
		if *loadIn == "process" {
			return cl.runProcess(ctx, urls, token)
		}
		return cl.run(ctx, bodies, urls, token, nil)
	}

	db, dropDB, err := benchDatabase(ctx, *dbFlag, dir, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer dropDB()
	envs, stopServers, err := startServers(ctx, db, *servers, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer stopServers()
	env := envs[0]
	svc := env.srv.svc
	if n := svc.Population(); n == 0 {
		t := time.Now()
		if err := seedSubjects(ctx, svc, env.admin, *subjects, nil); err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		if err := listSubjects(ctx, svc, env.admin, *listings); err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "checks: seeded %d subjects and %d blacklisted in %s\n", *subjects, *listings, since(t))
	} else {
		fmt.Fprintf(stdout, "checks: reusing %d subjects in %s\n", n, dir)
	}
	if err := caughtUp(ctx, envs); err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	listed, err := countEntries(ctx, svc, env.admin, "rongcheng-blacklist")
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	tok, err := svc.CreateToken(ctx, env.admin, service.TokenInput{Role: socred.RoleProvider, Name: "bench provider"})
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "  %d subjects, %d on rongcheng-blacklist; %d connections, %s after %s warm-up; %d server(s); load %s\n", svc.Population(), listed, *connections, *duration, *warmup, len(envs), cl.describe(*loadIn))

	bare, stopBare, err := startBare()
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer stopBare()
	var bases []loadgen.Result
	runs := make([][]loadgen.Result, len(modes))
	ratios := make([][]string, len(modes)) // each round's, to show their spread
	for round := 1; round <= *rounds; round++ {
		if *rounds > 1 {
			fmt.Fprintf(stdout, "  round %d of %d\n", round, *rounds)
		}
		base, err := load([]string{bare}, "")
		if err != nil {
			fmt.Fprintln(stderr, "socred bench: bare handler:", err)
			return exitFail
		}
		bases = append(bases, base)
		fmt.Fprintf(stdout, "  %-22s %s\n", "bare net/http handler", base)
		for m, off := range modes {
			for _, e := range envs {
				e.srv.svc.SetAuditOff(off)
			}
			stopProfile, err := profile(stderr)
			if err != nil {
				fmt.Fprintln(stderr, "socred bench:", err)
				return exitFail
			}
			res, err := load(urls(envs), tok.Token)
			stopProfile()
			if err != nil || res.Errors > 0 {
				fmt.Fprintf(stderr, "socred bench: socred: %v (%d errors)\n", err, res.Errors)
				return exitFail
			}
			runs[m] = append(runs[m], res)
			ratio := fmt.Sprintf("%.2f", res.Rate()/base.Rate())
			ratios[m] = append(ratios[m], ratio)
			fmt.Fprintf(stdout, "  %-22s %s\n", checksLabel(off), res)
			fmt.Fprintf(stdout, "  %-22s %s\n", "socred / bare", ratio)
		}
	}
	if *rounds > 1 {
		base := loadgen.Combine(bases...)
		fmt.Fprintf(stdout, "  all %d rounds together\n", *rounds)
		fmt.Fprintf(stdout, "  %-22s %s\n", "bare net/http handler", base)
		for m, off := range modes {
			res := loadgen.Combine(runs[m]...)
			fmt.Fprintf(stdout, "  %-22s %s\n", checksLabel(off), res)
			fmt.Fprintf(stdout, "  %-22s %.2f (rounds %s)\n", "socred / bare", res.Rate()/base.Rate(), strings.Join(ratios[m], ", "))
		}
	}
	return exitOK
}

func checksLabel(auditOff bool) string {
	if auditOff {
		return "socred checks, no log"
	}
	return "socred checks"
}

// listSubjects gives the first n subjects a loan default, which puts them
// on the Rongcheng blacklist (below 960).
func listSubjects(ctx context.Context, svc *service.Service, admin *socred.Caller, n int) error {
	at := time.Now().UTC().Add(-24 * time.Hour)
	const batch = 10_000
	for i := 0; i < n; i += batch {
		var in []socred.RecordInput
		for j := i; j < min(i+batch, n); j++ {
			in = append(in, socred.RecordInput{Key: fmt.Sprintf("default-%09d", j), Subject: subjectID(j), Scheme: "rongcheng", Rule: "loan-default", OccurredAt: at, Evidence: "bench"})
		}
		if _, err := svc.SubmitRecords(ctx, admin, in); err != nil {
			return err
		}
	}
	return nil
}

// countEntries counts a list's current entries.
func countEntries(ctx context.Context, svc *service.Service, admin *socred.Caller, list string) (int, error) {
	n := 0
	for {
		es, err := svc.ListEntries(ctx, admin, list, socred.Page{Limit: 1000, Offset: n})
		if err != nil {
			return 0, err
		}
		n += len(es)
		if len(es) < 1000 {
			return n, nil
		}
	}
}

// startBare serves a bare net/http handler that decodes a check request
// and answers a fixed decision of the same shape.
func startBare() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in service.CheckInput
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// #nosec G104 -- the status is sent; a failed write means the client went away
		json.NewEncoder(w).Encode(socred.Decision{Subject: in.Subject, Action: in.Action, Allowed: true, CheckedAt: time.Now().UTC(), Reasons: []socred.Reason{}})
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil // #nosec G104 -- the benchmark is over; closing only frees the listener and connections
}
