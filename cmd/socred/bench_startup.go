package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/socred/socred"
)

func benchStartup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("startup", `Builds a database with a large population, listings and records (or reuses
one), then starts "socred serve" on it several times and reports the time
from the start of the process to serving and the resident memory then.
With --cpuprofile, --memprofile or --trace, one more start is made in this
process, from opening the database to serving, and profiled.
`)
	subjects := fs.Int("subjects", 1_000_000, "population size")
	listings := fs.Int("listings", 100_000, "subjects put on the Rongcheng blacklist")
	records := fs.Int("records", 10_000_000, "records in all, spread over the last 300 days")
	runs := fs.Int("runs", 3, "how many starts to time")
	dirFlag := fs.String("dir", "", "working directory; a database already there is reused (default: a temporary one, removed after)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	dir, cleanup, err := benchDir(*dirFlag, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	defer cleanup()
	db := filepath.Join(dir, "socred.db")
	if err := buildStartupDB(ctx, dir, *subjects, *listings, *records, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	if st, err := os.Stat(db); err == nil {
		fmt.Fprintf(stdout, "  database %s: %.1f GiB\n", db, float64(st.Size())/(1<<30))
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "socred bench:", err)
		return exitFail
	}
	for run := 1; run <= *runs; run++ {
		took, rss, hwm, err := timeStart(self, db)
		if err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "  start %d: serving after %s, resident %d MiB (peak %d MiB)\n", run, took.Round(10*time.Millisecond), rss>>10, hwm>>10)
	}
	if cpuProfile != "" || memProfile != "" || traceFile != "" {
		// The timed starts are processes of their own; a profile is of
		// one more start, in this process, from opening the database to
		// serving.
		stop, err := profile(stderr)
		if err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		t := time.Now()
		env, err := startBench(ctx, db, stderr)
		took := time.Since(t)
		stop()
		if err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "  profiled start, in this process: serving after %s\n", took.Round(10*time.Millisecond))
		if err := env.close(); err != nil {
			fmt.Fprintln(stderr, "socred bench:", err)
			return exitFail
		}
	}
	return exitOK
}

// buildStartupDB fills the database in dir unless a complete build of the
// same size is already there. A build that was interrupted is started over.
func buildStartupDB(ctx context.Context, dir string, subjects, listings, records int, stdout, stderr io.Writer) error {
	marker := filepath.Join(dir, "built")
	want := fmt.Sprintf("subjects=%d listings=%d records=%d\n", subjects, listings, records)
	if b, err := os.ReadFile(marker); err == nil && string(b) == want { // #nosec G304 -- the marker in the --dir the operator names
		fmt.Fprintf(stdout, "startup: reusing the database in %s (%s)\n", dir, strings.TrimSpace(want))
		return nil
	}
	for _, name := range []string{"socred.db", "socred.db-wal", "socred.db-shm", "socred.db-index", "socred.db-index-wal", "socred.db-index-shm", "built"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	env, err := startBench(ctx, filepath.Join(dir, "socred.db"), stderr)
	if err != nil {
		return err
	}
	defer env.close()
	svc := env.srv.svc
	fmt.Fprintf(stdout, "startup: building %d subjects, %d listings, %d records\n", subjects, listings, records)
	t := time.Now()
	if err := seedSubjects(ctx, svc, env.admin, subjects, nil); err != nil {
		return err
	}
	if err := listSubjects(ctx, svc, env.admin, listings); err != nil {
		return err
	}
	// The rest: small good deeds and misconduct that roughly cancel out,
	// none of them red lights (which would add a listing of their own).
	rules := []string{"blood-donation", "charity-donation", "volunteering", "unleashed-dog", "littering"}
	rng := rand.New(rand.NewPCG(5, 6)) // #nosec G404 -- fixed-seed test data, the same every run; not a secret
	now := time.Now().UTC()
	const batch = 10_000
	for i := listings; i < records; i += batch {
		var in []socred.RecordInput
		for j := i; j < min(i+batch, records); j++ {
			in = append(in, socred.RecordInput{Key: "fill-" + strconv.Itoa(j), Subject: subjectID(rng.IntN(subjects)), Scheme: "rongcheng",
				Rule: rules[rng.IntN(len(rules))], OccurredAt: now.Add(-time.Duration(rng.IntN(300*24)) * time.Hour), Evidence: "bench"})
		}
		if _, err := svc.SubmitRecords(ctx, env.admin, in); err != nil {
			return err
		}
		if (i/batch)%100 == 0 {
			fmt.Fprintf(stdout, "  %d records after %s\n", i+len(in), since(t))
		}
	}
	fmt.Fprintf(stdout, "  built in %s\n", since(t))
	return os.WriteFile(marker, []byte(want), 0o600)
}

// timeStart starts "socred serve" on db and returns the time until it
// listens, and its resident and peak resident memory in KiB then.
func timeStart(self, db string) (time.Duration, int, int, error) {
	cmd := exec.Command(self, "serve", "--db", db, "--addr", "127.0.0.1:0") // #nosec G204 -- self is this executable (os.Executable), db the benchmark's own file
	cmd.Env = append(os.Environ(), "SOCRED_ADMIN_TOKEN="+benchAdmin)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGTERM)
	sc := bufio.NewScanner(errPipe)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "msg=listening") {
			took := time.Since(start)
			rss, hwm := memory(cmd.Process.Pid)
			go io.Copy(io.Discard, errPipe)
			return took, rss, hwm, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("socred serve exited before listening:\n%s", log.String())
}

// memory reads a process's resident and peak resident set in KiB.
func memory(pid int) (rss, hwm int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm
}
