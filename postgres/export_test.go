package postgres

import "time"

// SetNoticeLease shortens the lease of the notices s claims, for tests.
func SetNoticeLease(s *Store, d time.Duration) { s.lease = d }
