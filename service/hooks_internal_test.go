package service

import (
	"context"
	"time"
)

// SetDueBatch sets about how many due subjects one scheduler write takes,
// so that tests can make a pass span several writes with few subjects.
func SetDueBatch(s *Service, n int) { s.dueBatch = n }

// SetExpiryBatches sets how many checks (and accesses) one expiry
// transaction deletes and how many transactions a tick makes, and returns
// a function that restores them.
func SetExpiryBatches(rows, perTick int) (restore func()) {
	r, p := expireBatch, expireBatches
	expireBatch, expireBatches = rows, perTick
	return func() { expireBatch, expireBatches = r, p }
}

// ExpireLogs runs a tick's expiry of checks and accesses as at now, under
// the writer's lock as a tick holds it, apart from the scheduler's ticks
// (which the service's own clock drives).
func ExpireLogs(ctx context.Context, s *Service, now time.Time) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.expireLogs(ctx, now)
}
