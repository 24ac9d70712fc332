package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TakeTurn waits for the turn at writing changes: a lock on the row meta
// 'feed_turn', held by a transaction on a connection of its own until
// release. Row locks are granted in the order asked, and a server that dies
// gives its turn up with its connection. It is a plain row lock, which
// CockroachDB and YugabyteDB also have.
func (s *Store) TakeTurn(ctx context.Context) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("take turn: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("take turn: %w", err)
	}
	var v int64
	if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'feed_turn' FOR UPDATE`).Scan(&v); err != nil {
		tx.Rollback(context.Background()) // #nosec G104 -- already failing; a failed rollback closes the connection
		conn.Release()
		return nil, fmt.Errorf("take turn: %w", err)
	}
	return func() { endTurn(tx, conn.Release) }, nil
}

func endTurn(tx pgx.Tx, release func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx.Rollback(ctx) // #nosec G104 -- a failed rollback closes the connection, which ends the turn too
	release()
}
