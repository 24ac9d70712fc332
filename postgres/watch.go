package postgres

import (
	"context"
	"time"
)

// feedChannel is the channel of the notifications that wake the servers
// when a change is stored.
const feedChannel = "socred_changes"

// WatchChanges listens for the notifications of stored changes on a
// connection of its own, reconnecting after a failure, until ctx ends. A
// notification may be lost while it reconnects: the feed, which servers
// also poll, is what counts.
func (s *Store) WatchChanges(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(ch)
		for backoff := 100 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
			err := s.listen(ctx, wake)
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("listening for changes failed; retrying", "err", err, "in", backoff)
			wake() // a change may have been missed meanwhile
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
	return ch
}

func (s *Store) listen(ctx context.Context, wake func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection stays in LISTEN: it is closed, not given back.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+feedChannel); err != nil {
		return err
	}
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
