package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/socred/socred"
)

// PutSession stores a signed-in session of the web pages.
func (s *Store) PutSession(ctx context.Context, sess *socred.Session) error {
	tokenHash := sess.TokenHash
	if tokenHash == nil {
		tokenHash = []byte{} // pgx sends a nil slice as NULL
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, token_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.Hash, tokenHash, sess.CSRF, micros(sess.CreatedAt), micros(sess.ExpiresAt))
	if err != nil {
		return mapError(fmt.Errorf("put session: %w", err))
	}
	return nil
}

// Session returns the session whose secret hashes to hash, unless it has
// expired by now.
func (s *Store) Session(ctx context.Context, hash []byte, now time.Time) (*socred.Session, error) {
	var (
		sess                 socred.Session
		createdAt, expiresAt int64
	)
	err := s.pool.QueryRow(ctx, `SELECT hash, token_hash, csrf, created_at, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2`,
		hash, micros(now)).Scan(&sess.Hash, &sess.TokenHash, &sess.CSRF, &createdAt, &expiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMicros(createdAt), fromMicros(expiresAt)
	return &sess, nil
}

// DeleteSession ends the session whose secret hashes to hash, if it is
// stored, and removes every session expired by now, in one statement.
func (s *Store) DeleteSession(ctx context.Context, hash []byte, now time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1 OR expires_at <= $2`, hash, micros(now))
	if err != nil {
		return mapError(fmt.Errorf("delete session: %w", err))
	}
	return nil
}
