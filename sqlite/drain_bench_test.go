package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/socred/socred"
)

// BenchmarkDrainChecks copies groups of checks from the check log into the
// database, as the background drain does under load: 372 groups of 22
// checks (8,184 rows, a drain's worth), each check with its audit entry and
// one in ten a denial with its notice. Only the drain is timed.
func BenchmarkDrainChecks(b *testing.B) {
	slowDrains(b, 64<<20, 48<<20)
	s := openAt(b, filepath.Join(b.TempDir(), "socred.db"))
	defer s.Close()
	ctx := context.Background()
	keys := socred.AuditKeys{Salt: []byte("salt")}
	t0 := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	const groups, group = 372, 22
	n := 0
	for b.Loop() {
		b.StopTimer()
		for range groups {
			if err := s.Commit(ctx, BenchChecks(&keys, t0, group, &n)); err != nil {
				b.Fatal(err)
			}
		}
		if len(s.clog.synced(true)) != groups {
			b.Fatalf("%d groups in the log, want %d", len(s.clog.synced(true)), groups)
		}
		b.StartTimer()
		if err := s.drain(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/check")
}
