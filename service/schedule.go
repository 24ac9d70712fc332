package service

import (
	"context"
	"errors"
	"time"

	"github.com/socred/socred"
)

// dueBatch is about how many subjects one scheduler commit re-evaluates:
// more only when more fall due at the same moment.
const dueBatch = 2000

// schedule applies time-driven changes as they fall due: a record stops
// counting, a count window slides past a record, a term ends, a grace
// period passes.
func (s *Service) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler", "err", err)
		}
		wait := s.SchedulerIdle
		s.mu.RLock()
		next, ok := s.world.NextDue()
		s.mu.RUnlock()
		if ok {
			wait = min(wait, max(next.Sub(s.now()), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
			if !timer.Stop() {
				<-timer.C
			}
		}
	}
}

// Tick applies every time-driven change due by now and records the settled
// time, purges what is past its retention, and suspends the entries whose
// appeal's review is overdue. It returns how many subjects changed. The
// scheduler calls it; tests with a fake clock call it directly.
func (s *Service) Tick(ctx context.Context) (int, error) {
	n, err := s.tick(ctx)
	if err != nil {
		return n, err
	}
	m, err := s.suspendOverdue(ctx)
	return n + m, err
}

func (s *Service) tick(ctx context.Context) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	release, err := s.takeTurn(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	if _, err := s.follow(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	total, stale := 0, 0
	for {
		// A pass over many subjects commits in several writes, each
		// settling the world up to the moment its last subject fell due,
		// so that a stop between them leaves nothing applied twice.
		s.mu.RLock()
		plan, through, err := s.world.PlanDue(now, s.dueBatch)
		s.mu.RUnlock()
		if err != nil {
			return total, err
		}
		w := &socred.Write{Now: now, Events: plan.Events, Due: &through, DueSubjects: plan.Subjects, Settled: &through}
		s.addPurges(w)
		s.addNotices(w)
		last := through.Equal(now)
		// With nothing due, the settled time is still written now and then,
		// so that a restart has little to replay.
		if len(plan.Subjects) > 0 || (last && now.Sub(s.settled) >= s.SchedulerIdle) {
			err := s.publish(ctx, plan, w)
			if errors.Is(err, socred.ErrStale) && stale < maxStale {
				// Another server changed the world first, perhaps applying
				// these very changes: take its changes and plan again.
				stale++
				if _, err := s.follow(ctx); err != nil {
					return total, err
				}
				continue
			}
			if err != nil {
				return total, err
			}
			s.settled = through
		}
		total += len(plan.Subjects)
		if last {
			if n, err := s.purge(ctx); err != nil {
				return total, err
			} else if n > 0 {
				s.log.Info("purged what is past its retention: records' evidence, ended designations' reasons (or logged purges made before purges were logged)", "purged", n)
			}
			return total, nil
		}
	}
}

// catchUp applies what fell due while the server was down.
func (s *Service) catchUp(ctx context.Context) (int, error) { return s.Tick(ctx) }
