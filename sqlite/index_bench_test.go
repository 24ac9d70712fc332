package sqlite

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// BenchmarkMergeChecks merges tails of 500,000 checks of random subjects
// of a population of 1,000,000 into a checks index that already holds
// base rows, as the store does every MergeThreshold checks. It needs a
// few hundred MiB of disk; BENCH_MERGE_BASE sets base (default 5,000,000)
// and BENCH_MERGE_TAIL the rows of a merge (default 500,000).
func BenchmarkMergeChecks(b *testing.B) {
	base, tail := envInt(b, "BENCH_MERGE_BASE", 5_000_000), envInt(b, "BENCH_MERGE_TAIL", 500_000)
	ctx := context.Background()
	s := openUnmerged(b)
	if v := os.Getenv("BENCH_MERGE_PRAGMA"); v != "" {
		if err := pragmas(s.xw, v); err != nil {
			b.Fatal(err)
		}
	}
	const population = 1_000_000
	next := int64(1)
	fill := func(n int) {
		subjects, ids := make([]string, n), make([]int64, n)
		for i := range n {
			subjects[i] = "person-" + strconv.Itoa(int(next*7919%population))
			ids[i] = next
			next++
		}
		s.checks.add(subjects, ids)
	}
	for done := 0; done < base; done += 1_000_000 {
		fill(min(1_000_000, base-done))
		if _, err := s.checks.merge(ctx, s, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		fill(tail)
		b.StartTimer()
		if _, err := s.checks.merge(ctx, s, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tail), "µs/row")
}

// envInt returns the integer the environment variable name holds, or def
// when it is unset.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}
