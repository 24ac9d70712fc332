package main

import (
	"bufio"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// serverGCPercent is the collector's target for a server, unless GOGC
// says otherwise. A server's heap is mostly its world — every subject's
// facts, long-lived — and at Go's default of 100 the collector marks all
// of it each time the requests have allocated as much again: at 1,000,000
// subjects that was 15 % of the CPU of a checks benchmark and stalls of
// 300-450 ms; at 400, checks ran 17 % faster with p99 14 ms instead of 18
// (BENCHMARKS.md). The price is memory: the heap may grow to five times
// the live data, so a memory limit comes with it.
const serverGCPercent = 400

// tuneGC sets the collector for a server: GOGC and GOMEMLIMIT, when set in
// the environment, win; otherwise the target is serverGCPercent with a
// soft memory limit of 70 % of the machine's (or the cgroup's) memory, past
// which the collector runs as often as it must.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := memoryAvailable(); total > 0 {
			debug.SetMemoryLimit(total / 10 * 7)
			log.Debug("collector", "gogc", serverGCPercent, "memory limit", total/10*7)
		}
	}
}

// memoryAvailable returns the memory the process may use: the cgroup's
// limit when there is one, else the machine's; 0 when unknown.
func memoryAvailable() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24594668 kB
		if fields := strings.Fields(sc.Text()); len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			n, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return n * 1024
			}
		}
	}
	return 0
}
