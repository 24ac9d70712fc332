package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/socred/socred"
)

// SQLSTATE codes the store turns into application errors, with their names
// in PostgreSQL's Appendix A.
const (
	uniqueViolation      = "23505" // unique_violation
	serializationFailure = "40001" // serialization_failure
	deadlockDetected     = "40P01" // deadlock_detected
)

// mapError returns the application error for a driver error whose SQLSTATE
// has one, and err otherwise. A write that fails this way stored nothing.
// Besides an idempotency key used before, whose conflict the service
// handles, the application error wraps the driver's, so that logs show
// which row.
func mapError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case uniqueViolation:
		if pgErr.TableName == "record_keys" {
			// The service plans records without looking their keys up
			// and relies on this conflict to look them up and plan again.
			return socred.Errorf(socred.ECONFLICT, "a record with one of these keys was stored concurrently; submit the batch again")
		}
		return fmt.Errorf("%w: %w", socred.Errorf(socred.ECONFLICT, "the write conflicts with a row stored before; nothing was stored"), err)
	case serializationFailure, deadlockDetected:
		return fmt.Errorf("%w: %w", socred.Errorf(socred.ECONFLICT, "the write collided with a concurrent one; nothing was stored, try again"), err)
	}
	return err
}

// isSerializationFailure reports whether err is a serialization failure,
// which databases that run every transaction serializably (CockroachDB)
// return where PostgreSQL makes a writer wait.
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == serializationFailure
}
