package sqlite

import (
	"fmt"
	sqlite3 "zombiezen.com/go/sqlite"

	"context"
	"os"
	"strconv"
	"strings"
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
	fill := checksIndex(b, s, base)
	written := writeBytes(b)
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
	b.ReportMetric(float64(writeBytes(b)-written)/float64(b.N*tail), "written-B/row")
	b.ReportMetric(float64(len(s.checks.runs)), "runs")
}

// benchPopulation is how many subjects the merge benchmarks' checks are of.
const benchPopulation = 1_000_000

// checksIndex merges base checks of random subjects into s's checks index,
// a million at a time, and returns a function that adds n more to its tail.
func checksIndex(b *testing.B, s *Store, base int) (fill func(n int)) {
	next := int64(1)
	fill = func(n int) {
		subjects, ids := make([]string, n), make([]int64, n)
		for i := range n {
			subjects[i] = "person-" + strconv.Itoa(int(next*7919%benchPopulation))
			ids[i] = next
			next++
		}
		s.checks.add(subjects, ids)
	}
	for done := 0; done < base; done += 1_000_000 {
		fill(min(1_000_000, base-done))
		if _, err := s.checks.merge(context.Background(), s, 1); err != nil {
			b.Fatal(err)
		}
	}
	return fill
}

// writeBytes returns the bytes this process has had written to storage
// (Linux's /proc/self/io write_bytes, counted as pages are dirtied), or 0
// where it cannot be read.
func writeBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatalf("/proc/self/io: %v", err)
			}
			return n
		}
	}
	return 0
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

// BenchmarkSubjectIDs reads one subject's ids from a checks index of
// BENCH_MERGE_BASE rows (default 5,000,000) of a million subjects, merged a
// million at a time, as reading a subject's file does for each of its
// four indexes.
func BenchmarkSubjectIDs(b *testing.B) {
	base := envInt(b, "BENCH_MERGE_BASE", 5_000_000)
	ctx := context.Background()
	s := openUnmerged(b)
	checksIndex(b, s, base)
	found := 0
	i := 0
	for b.Loop() {
		subject := "person-" + strconv.Itoa(i*104729%benchPopulation)
		i++
		err := s.read(ctx, func(conn *sqlite3.Conn) error {
			ids, err := s.checks.ids(conn, subject)
			found += len(ids)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(found)/float64(b.N), "ids/op")
}

// BenchmarkTailAdd indexes rows in a tail as commits do, in batches of
// 1,000 rows: a million rows of 100,000 subjects, and of a million, in the
// order a load of records spreads them.
func BenchmarkTailAdd(b *testing.B) {
	const rows = 1_000_000
	for _, n := range []int{100_000, 1_000_000} {
		subjects := make([]string, n)
		for i := range subjects {
			subjects[i] = "person-" + strconv.Itoa(i)
		}
		order := make([]string, rows)
		ids := make([]int64, rows)
		for i := range order {
			order[i], ids[i] = subjects[i*7919%len(subjects)], int64(i+1)
		}
		b.Run(fmt.Sprintf("subjects=%d/batch=1000", n), func(b *testing.B) {
			for b.Loop() {
				t := newTail(0)
				for lo := 0; lo < rows; lo += 1000 {
					t.addAll(order[lo:lo+1000], ids[lo:lo+1000])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
		})
	}
}
