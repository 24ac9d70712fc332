package postgres

import "time"

// SetNoticeLease shortens the lease of the notices s claims, for tests.
func SetNoticeLease(s *Store, d time.Duration) { s.lease = d }

// RunningLockHolder is the query of a backend that holds the running lock
// of the schema the connection is in (0 for none), for tests.
const RunningLockHolder = `SELECT COALESCE(MIN(pid), 0) ` + runningLockHolders
