package sqlite

import (
	"context"
	"fmt"
	"time"

	sqlite3 "zombiezen.com/go/sqlite"

	"github.com/socred/socred"
)

// PutSession stores a signed-in session of the web pages.
func (s *Store) PutSession(ctx context.Context, sess *socred.Session) error {
	err := s.write(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`INSERT INTO sessions (hash, token_hash, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`)
		stmt.BindBytes(1, sess.Hash)
		stmt.BindBytes(2, sess.TokenHash)
		stmt.BindText(3, sess.CSRF)
		stmt.BindInt64(4, micros(sess.CreatedAt))
		stmt.BindInt64(5, micros(sess.ExpiresAt))
		err := exec(stmt)
		if isConstraint(err) {
			return socred.Errorf(socred.ECONFLICT, "a session with this hash is stored")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

// Session returns the session whose secret hashes to hash, unless it has
// expired by now.
func (s *Store) Session(ctx context.Context, hash []byte, now time.Time) (*socred.Session, error) {
	var sess *socred.Session
	err := s.read(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`SELECT hash, token_hash, csrf, created_at, expires_at FROM sessions WHERE hash = ? AND expires_at > ?`)
		stmt.BindBytes(1, hash)
		stmt.BindInt64(2, micros(now))
		return each(stmt, func(stmt *sqlite3.Stmt) error {
			sess = &socred.Session{Hash: make([]byte, stmt.ColumnLen(0)), TokenHash: make([]byte, stmt.ColumnLen(1)),
				CSRF: stmt.ColumnText(2), CreatedAt: fromMicros(stmt.ColumnInt64(3)), ExpiresAt: fromMicros(stmt.ColumnInt64(4))}
			stmt.ColumnBytes(0, sess.Hash)
			stmt.ColumnBytes(1, sess.TokenHash)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if sess == nil {
		return nil, notFound("session not found")
	}
	return sess, nil
}

// DeleteSession ends the session whose secret hashes to hash, if it is
// stored, and removes every session expired by now.
func (s *Store) DeleteSession(ctx context.Context, hash []byte, now time.Time) error {
	err := s.write(ctx, func(conn *sqlite3.Conn) error {
		stmt := conn.Prep(`DELETE FROM sessions WHERE hash = ?`)
		stmt.BindBytes(1, hash)
		if err := exec(stmt); err != nil {
			return err
		}
		stmt = conn.Prep(`DELETE FROM sessions WHERE expires_at <= ?`)
		stmt.BindInt64(1, micros(now))
		return exec(stmt)
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
