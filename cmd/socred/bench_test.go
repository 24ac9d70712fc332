package main_test

import (
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestBenchChecks runs a small checks benchmark of two rounds with the load
// generator in a process of its own and in the servers' process: both
// report the bare handler's rate, socred's, and their ratio, each round's
// and all together (with each round's ratio beside), with no failed request.
func TestBenchChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a population and runs load for seconds; -short skips it")
	}
	line := regexp.MustCompile(`(?m)^  (bare net/http handler|socred checks) +\d+ req/s \(\d+ requests, 0 errors in`)
	ratio := regexp.MustCompile(`(?m)^  socred / bare +([0-9.]+)(?: \(rounds (.+)\))?$`)
	cpuParts := regexp.MustCompile(`CPU ([0-9.]+) cores \(\d+ % in the kernel; ([0-9.]+) in the load's process\)`)
	for _, where := range []string{"process", "inline"} {
		t.Run(where, func(t *testing.T) {
			stdout, stderr, code := socred(t, "bench", "checks", "--subjects", "2000", "--listings", "100",
				"--connections", "4", "--duration", "300ms", "--warmup", "100ms", "--rounds", "2", "--load", where, "--load-procs", "1", "--dir", t.TempDir())
			if code != 0 {
				t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			// Two rounds, and both together.
			if n := len(line.FindAllString(stdout, -1)); n != 6 {
				t.Errorf("%d lines of rates without errors, want 6:\n%s", n, stdout)
			}
			// The rounds' ratios, then all of them together with each
			// round's beside it.
			ratios := ratio.FindAllStringSubmatch(stdout, -1)
			if len(ratios) != 3 || ratios[0][2] != "" || ratios[1][2] != "" || ratios[2][2] != ratios[0][1]+", "+ratios[1][1] {
				t.Errorf("ratios %q: want each round's, then together with the rounds':\n%s", ratios, stdout)
			}
			want := "load from a process of its own (GOMAXPROCS 1)"
			if where == "inline" {
				want = "load in the servers' process"
			}
			if !strings.Contains(stdout, want) {
				t.Errorf("the report does not say %q:\n%s", want, stdout)
			}
			// Every rate says how often the servers' process switched
			// context, and, on Linux, how the machine's cores spent the span.
			if n := strings.Count(stdout, " context switches a request ("); n != 6 {
				t.Errorf("%d rates with the context switches, want 6:\n%s", n, stdout)
			}
			if n := strings.Count(stdout, "; machine "); runtime.GOOS == "linux" && n != 6 {
				t.Errorf("%d rates with the machine's cores, want 6:\n%s", n, stdout)
			}
			// From a process of its own, the load's CPU is added to the
			// servers' and reported as part of it.
			parts := cpuParts.FindAllStringSubmatch(stdout, -1)
			if where == "inline" {
				if len(parts) != 0 {
					t.Errorf("the load ran inline, and the report names its process:\n%s", stdout)
				}
				return
			}
			if len(parts) != 6 {
				t.Fatalf("%d rates with the load process's CPU, want 6:\n%s", len(parts), stdout)
			}
			for _, p := range parts {
				all, _ := strconv.ParseFloat(p[1], 64)
				load, _ := strconv.ParseFloat(p[2], 64)
				if load <= 0 || load >= all {
					t.Errorf("CPU %s cores, %s of them in the load's process: want the load's part of it, and the servers' besides", p[1], p[2])
				}
			}
		})
	}
	_, stderr, code := socred(t, "bench", "checks", "--load", "elsewhere")
	if code != 2 || !strings.Contains(stderr, "--load: process or inline") {
		t.Errorf("--load elsewhere: exit %d, stderr %q; want 2 and the flag named", code, stderr)
	}
}

// TestBenchIngest runs a small ingest benchmark: the raw appends, then
// socred over HTTP, every batch accepted (the command fails on any error),
// with the rate and its ratio to the raw append reported.
func TestBenchIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("registers a population and submits records for seconds; -short skips it")
	}
	stdout, stderr, code := socred(t, "bench", "ingest", "--records", "3000", "--subjects", "500", "--batch", "250", "--clients", "3", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, re := range []string{
		`(?m)^  raw SQLite append, no index +\d+ rows/s$`,
		`(?m)^  raw SQLite append, \(reporter, key\) index +\d+ rows/s$`,
		`(?m)^  socred over HTTP +\d+ records/s \(12 batches in `,
		`(?m)^  socred / raw append +[0-9.]+$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("no line matching %s:\n%s", re, stdout)
		}
	}
}
