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
	base := 5_000_000
	if v := os.Getenv("BENCH_MERGE_BASE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		base = n
	}
	ctx := context.Background()
	s := openUnmerged(b)
	if v := os.Getenv("BENCH_MERGE_PRAGMA"); v != "" {
		if err := pragmas(s.xw, v); err != nil {
			b.Fatal(err)
		}
	}
	const population = 1_000_000
	tail := 500_000
	if v := os.Getenv("BENCH_MERGE_TAIL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		tail = n
	}
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
