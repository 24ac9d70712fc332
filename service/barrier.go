package service

import (
	"context"
	"sync"

	"github.com/socred/socred"
)

// barrier makes a read on one server reflect every change acknowledged by
// any server sharing the store before the read began (API.md: "Decisions
// reflect every write acknowledged before the check"). A read joins a
// round; a round asks the store for the feed's head once, for every read
// that joined before it asked, and follows the feed up to it. A read that
// joins while a round is asking waits for the next one: the head that
// round reads may predate the read's start.
type barrier struct {
	heads socred.FeedHeader // nil: the store is this server's alone

	mu      sync.Mutex
	next    *barrierRound // the round taking joiners, if any
	running bool          // a round is asking or following
}

type barrierRound struct {
	done chan struct{}
	err  error
}

// wait returns once the world holds every change stored before it was
// called (or ctx ends).
func (b *barrier) wait(ctx context.Context, s *Service) error {
	if b.heads == nil {
		return nil
	}
	b.mu.Lock()
	r := b.next
	if r == nil {
		r = &barrierRound{done: make(chan struct{})}
		b.next = r
	}
	if !b.running {
		b.running = true
		go b.run(s)
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs rounds while reads are waiting for one.
func (b *barrier) run(s *Service) {
	for {
		b.mu.Lock()
		r := b.next
		b.next = nil
		if r == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		r.err = b.round(s)
		close(r.done)
	}
}

// round reads the feed's head and follows the feed up to it.
func (b *barrier) round(s *Service) error {
	ctx := context.Background()
	head, err := b.heads.FeedHead(ctx)
	if err != nil {
		return err
	}
	if s.caughtUp(head) {
		return nil
	}
	_, err = s.Follow(ctx)
	return err
}

// caughtUp reports whether the world includes change seq.
func (s *Service) caughtUp(seq int64) bool { return s.applied.Load() >= seq }
