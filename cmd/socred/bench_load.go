package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred/loadgen"
	"github.com/socred/socred/service"
)

// checkLoad is the checks benchmark's load: its connections, times and
// requests.
type checkLoad struct {
	subjects, connections int
	duration, warmup      time.Duration
	procs                 int // the load process's GOMAXPROCS; 0: Go's default
}

// bodies returns the check requests the load cycles through, the same
// in every process that asks for the same population.
func (l checkLoad) bodies() [][]byte {
	rng := rand.New(rand.NewPCG(3, 4)) // #nosec G404 -- fixed-seed test data, the same every run; not a secret
	bodies := make([][]byte, 1<<16)
	for i := range bodies {
		b, _ := json.Marshal(service.CheckInput{Subject: subjectID(rng.IntN(l.subjects)), Action: checkActions[rng.IntN(len(checkActions))], Purpose: "booking " + fmt.Sprint(i)})
		bodies[i] = b
	}
	return bodies
}

// run sends the load to urls in this process, calling measuring as the
// warm-up ends.
func (l checkLoad) run(ctx context.Context, bodies [][]byte, urls []string, token string, measuring func()) (loadgen.Result, error) {
	return loadgen.Run(ctx, loadgen.Config{
		URLs: urls, Connections: l.connections, Duration: l.duration, Warmup: l.warmup, Measuring: measuring,
		Next: func(c, i int) loadgen.Request {
			return loadgen.Request{Method: "POST", Path: "/v1/checks", Token: token, Body: bodies[(c*7919+i)%len(bodies)]}
		},
	})
}

// args are the flags of "socred bench load" for this load.
func (l checkLoad) args(urls []string, token string) []string {
	return []string{"bench", "load",
		"--urls", strings.Join(urls, ","), "--token", token,
		"--subjects", strconv.Itoa(l.subjects), "--connections", strconv.Itoa(l.connections),
		"--duration", l.duration.String(), "--warmup", l.warmup.String()}
}

// The load process writes loadMeasuring on a line of its own as the
// warm-up ends, then its result as one line of JSON.
const loadMeasuring = "measuring"

// runProcess sends the load from a process of its own (this executable's
// "bench load"), as a server's clients would, and returns its result with
// CPU the load process's and this process's together over the measured
// span, and the context switches this process's alone: the servers
// measured run in this one. In one process the load
// generator's goroutines would share the servers' scheduler: a thread
// blocked in a sync would hold up clients too, and the collector's work on
// a server's heap would tax them.
func (l checkLoad) runProcess(ctx context.Context, urls []string, token string) (loadgen.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return loadgen.Result{}, err
	}
	cmd := exec.CommandContext(ctx, self, l.args(urls, token)...) // #nosec G204 -- self is this executable (os.Executable), the arguments the benchmark's own
	out, err := cmd.StdoutPipe()
	if err != nil {
		return loadgen.Result{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if l.procs > 0 {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(l.procs))
	}
	if err := cmd.Start(); err != nil {
		return loadgen.Result{}, err
	}
	var (
		res        loadgen.Result
		cpu0, cpu1 [2]time.Duration
		sw0, sw1   [2]int64
		measured   bool
		gotResult  bool
		readErr    error
		sc         = bufio.NewScanner(out)
	)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case string(line) == loadMeasuring:
			cpu0[0], cpu0[1] = loadgen.ProcessCPU()
			sw0[0], sw0[1] = loadgen.ProcessSwitches()
			measured = true
		case !gotResult:
			cpu1[0], cpu1[1] = loadgen.ProcessCPU()
			sw1[0], sw1[1] = loadgen.ProcessSwitches()
			if err := json.Unmarshal(line, &res); err != nil {
				readErr = fmt.Errorf("load process: its result: %w", err)
			}
			gotResult = true
		}
	}
	if err := sc.Err(); err != nil && readErr == nil {
		readErr = err
	}
	if err := cmd.Wait(); err != nil {
		return loadgen.Result{}, fmt.Errorf("load process: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if readErr != nil {
		return loadgen.Result{}, readErr
	}
	if !gotResult {
		return loadgen.Result{}, errors.New("load process: no result")
	}
	if measured {
		res.LoadCPU = res.CPU
		res.CPU += cpu1[0] - cpu0[0]
		res.CPUSystem += cpu1[1] - cpu0[1]
		// The servers' context switches, not the load process's.
		res.VoluntarySwitches, res.InvoluntarySwitches = sw1[0]-sw0[0], sw1[1]-sw0[1]
	} else {
		res.VoluntarySwitches, res.InvoluntarySwitches = 0, 0
	}
	return res, nil
}

// benchLoad is "socred bench load": the checks benchmark's load generator
// in a process of its own, started by "socred bench checks".
func benchLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := benchFlags("load", `Sends the checks benchmark's load to running servers from this process
and writes "measuring" on a line as the warm-up ends, then the result as
one line of JSON. "socred bench checks" starts it; it is not needed on
its own.
`)
	urlsFlag := fs.String("urls", "", "comma-separated base URLs of the servers")
	token := fs.String("token", "", "a provider's token")
	var l checkLoad
	fs.IntVar(&l.subjects, "subjects", 1_000_000, "population size")
	fs.IntVar(&l.connections, "connections", 64, "concurrent connections")
	fs.DurationVar(&l.duration, "duration", 20*time.Second, "how long to measure")
	fs.DurationVar(&l.warmup, "warmup", 3*time.Second, "load before measuring")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *urlsFlag == "" || l.subjects < 1 || l.connections < 1 {
		fmt.Fprintln(stderr, "socred bench load: --urls, --subjects and --connections are required")
		return exitUsage
	}
	w := bufio.NewWriter(stdout)
	var mu sync.Mutex
	res, err := l.run(ctx, l.bodies(), strings.Split(*urlsFlag, ","), *token, func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(w, loadMeasuring)
		w.Flush() // #nosec G104 -- a failed write fails the final one too
	})
	if err != nil {
		fmt.Fprintln(stderr, "socred bench load:", err)
		return exitFail
	}
	mu.Lock()
	defer mu.Unlock()
	if err := json.NewEncoder(w).Encode(res); err != nil {
		fmt.Fprintln(stderr, "socred bench load:", err)
		return exitFail
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "socred bench load:", err)
		return exitFail
	}
	return exitOK
}

// describe says where the load runs (--load), for the report.
func (l checkLoad) describe(where string) string {
	switch {
	case where == "inline":
		return "in the servers' process"
	case l.procs > 0:
		return fmt.Sprintf("from a process of its own (GOMAXPROCS %d)", l.procs)
	}
	return "from a process of its own"
}
