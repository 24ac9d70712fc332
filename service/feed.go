package service

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// Several servers may share one store. Each numbers its writes in the
// store's change feed (see socred.Change) and tails the feed for the
// changes the others made, applying them to its own world so that its
// checks reflect them. Only the server that made a change stores its events:
// the others apply it silently.

// FeedPoll is how often a server looks for changes made by other servers
// when the store cannot tell it.
const FeedPoll = 200 * time.Millisecond

// feedPage is how many changes one read of the feed returns at most.
const feedPage = 256

// Follow applies the changes other servers stored since the world's last
// one, taking the writer lock, and returns how many it applied.
func (s *Service) Follow(ctx context.Context) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.follow(ctx)
}

// follow is Follow for a caller that holds s.wmu.
func (s *Service) follow(ctx context.Context) (int, error) {
	n := 0
	for {
		changes, err := s.store.Changes(ctx, s.seq, feedPage)
		if err != nil {
			return n, fmt.Errorf("follow the feed: %w", err)
		}
		if len(changes) == 0 {
			return n, nil
		}
		if changes[0].Seq != s.seq+1 {
			return n, fmt.Errorf("follow the feed: change %d is no longer kept (the feed starts at %d): this server fell behind by more than %s; restart it",
				s.seq+1, changes[0].Seq, socred.FeedRetention)
		}
		for i := range changes {
			if err := s.applyChange(ctx, &changes[i]); err != nil {
				return n, fmt.Errorf("follow the feed: change %d: %w", changes[i].Seq, err)
			}
			s.seq = changes[i].Seq
			s.applied.Store(s.seq)
			n++
		}
	}
}

// applyChange applies another server's change to the world, at the moment
// it was made, without events: that server stored them.
func (s *Service) applyChange(ctx context.Context, c *socred.Change) error {
	recs, err := s.store.RecordsByRef(ctx, c.Records)
	if err != nil {
		return err
	}
	if len(recs) != len(c.Records) {
		return fmt.Errorf("%d of its %d records are not in the store", len(c.Records)-len(recs), len(c.Records))
	}
	ec := engine.Change{
		Subjects: c.Subjects, Relate: c.Relate, Unrelate: c.Unrelate,
		Records: recs, Designations: c.Designations, Stored: true,
	}
	for _, r := range append(c.Overturn, c.Suspend...) {
		ec.Overturn = append(ec.Overturn, engine.RecordRef{Subject: r.Subject, ID: strconv.FormatInt(r.ID, 10)})
	}
	if len(c.Reinstate) > 0 {
		back, err := s.store.RecordsByRef(ctx, c.Reinstate)
		if err != nil {
			return err
		}
		ec.Records = append(ec.Records, back...)
	}
	at := c.At
	if c.Due != nil {
		ec.Touch, at = c.DueSubjects, *c.Due
	}
	s.mu.RLock()
	plan, err := s.world.Plan(ec, at, noNewIDs)
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	s.mu.Lock()
	err = s.world.Apply(plan)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if c.Settled != nil && c.Settled.After(s.settled) {
		s.settled = *c.Settled
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// noNewIDs is the id source of plans of stored changes, which derive no
// records.
func noNewIDs() int64 { panic("service: a stored change derived a record") }

// tail follows the feed until ctx ends: at once when the store tells of a
// change, and every FeedPoll in any case.
func (s *Service) tail(ctx context.Context) {
	var notes <-chan struct{}
	if w, ok := s.store.(socred.ChangeWatcher); ok {
		notes = w.WatchChanges(ctx)
	}
	ticker := time.NewTicker(s.FeedPoll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case _, ok := <-notes:
			if !ok {
				notes = nil
			}
		}
		if _, err := s.Follow(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("feed", "err", err)
		}
	}
}
