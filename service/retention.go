package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/socred/socred"
)

// addPurges schedules, in w, the purge of the personal fields of every
// record that w makes stop counting (or that was accepted already expired):
// its scheme's retain_for after it stopped counting.
func (s *Service) addPurges(w *socred.Write) {
	suspended := make(map[string]bool, len(w.Suspend))
	for _, r := range w.Suspend {
		suspended[strconv.FormatInt(r.ID, 10)] = true
	}
	for _, e := range w.Events {
		// A suspended record may count again: its purge is scheduled when
		// it is suspended (suspend), for the end it would have had, and an
		// overturn purges it sooner.
		if e.Kind != socred.EventRecordStopped || suspended[e.Record] {
			continue
		}
		id, err := strconv.ParseInt(e.Record, 10, 64)
		sc := s.pack.Scheme(e.Scheme)
		if err != nil || sc == nil {
			continue
		}
		w.Purges = append(w.Purges, socred.Purge{Subject: e.Subject, Record: id, At: sc.RetainFor.AddTo(e.At)})
	}
	for _, r := range w.Records {
		if r.CountsUntil.After(w.Now) {
			continue
		}
		id, err := strconv.ParseInt(r.ID, 10, 64)
		sc := s.pack.Scheme(r.Scheme)
		if err != nil || sc == nil {
			continue
		}
		w.Purges = append(w.Purges, socred.Purge{Subject: r.Subject, Record: id, At: purgeAfter(r, sc.RetainFor)})
	}
}

// purgeAfter is when r's evidence is purged, as addPurges and suspend
// schedule it: retain after it stopped counting (its end, or its overturn
// if sooner), and not before it was accepted.
func purgeAfter(r *socred.Record, retain socred.Duration) time.Time {
	stop := r.CountsUntil
	if r.OverturnedAt != nil && r.OverturnedAt.Before(stop) {
		stop = *r.OverturnedAt
	}
	return later(retain.AddTo(stop), r.AcceptedAt)
}

// purgeDesignations clears the reason, case and end reason of every
// designation that ended its list's retain_for ago (an entry an appeal is
// about counts from the decision, and waits while the appeal is open),
// each with an entry in the audit log of the designation as it stands once
// purged. It returns how many.
func (s *Service) purgeDesignations(ctx context.Context, now time.Time) (int, error) {
	at := now.UTC().Truncate(time.Microsecond) // as the store keeps it
	total := 0
	lists, err := s.store.DesignationLists(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range lists {
		// A list the pack no longer declares (or no longer designates)
		// keeps its entries' text the default time.
		retain := socred.DefaultRetention
		if l := s.pack.List(id); l != nil && l.Designated {
			retain = l.RetainFor
		}
		for {
			ds, err := s.store.EndedDesignations(ctx, id, retain.SubFrom(now), purgeBatch)
			if err != nil {
				return total, err
			}
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				d.Reason, d.Case, d.EndReason, d.PurgedAt = "", "", "", &at
			}
			if err := s.commitLogged(ctx, &socred.Write{Now: now, PurgeDesignations: ds}); err != nil {
				return total, err
			}
			total += len(ds)
			if len(ds) < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// DefaultCheckRetention is how long checks and reads of files are kept
// unless Service.CheckRetention says: two years, as long as credit bureaus
// keep the inquiries into a file.
var DefaultCheckRetention = socred.Duration{N: 2, Unit: socred.Years}

// CheckRetentionPeriod is how long checks and reads of files are kept:
// CheckRetention, or the default.
func (s *Service) CheckRetentionPeriod() socred.Duration {
	return s.CheckRetention.OrDefault(DefaultCheckRetention)
}

// expireBatch is how many checks (and as many accesses) one expiry
// transaction deletes at most, and expireBatches how many transactions one
// tick makes: a first start on years of checks deletes them over many
// ticks, rather than hold the scheduler for the whole of it.
var (
	expireBatch   = 10000
	expireBatches = 100
)

// expireLogs deletes the checks and reads of files made longer than the
// retention ago, the oldest first, a batch a transaction, each with an
// entry in the audit log naming the last one deleted, expireBatches at
// most. It returns how many batches it deleted.
func (s *Service) expireLogs(ctx context.Context, now time.Time) (int, error) {
	retain := s.CheckRetentionPeriod()
	before := retain.SubFrom(now)
	var last socred.Expiry
	n := 0
	defer func() {
		if n > 0 {
			s.log.Info("deleted checks and reads of files past their retention", "retention", retain.String(),
				"checks_through", last.Checks, "accesses_through", last.Accesses)
		}
	}()
	for n < expireBatches {
		e, err := s.store.ExpiredLogs(ctx, before, expireBatch)
		if err != nil {
			return n, err
		}
		if e == (socred.Expiry{}) {
			return n, nil
		}
		if e.Checks <= last.Checks && e.Accesses <= last.Accesses {
			return n, fmt.Errorf("expiry: the store still holds checks up to %d and reads up to %d, deleted before", e.Checks, e.Accesses)
		}
		if err := s.commitLogged(ctx, &socred.Write{Now: now, Expire: e}); err != nil {
			return n, err
		}
		last.Checks, last.Accesses = max(last.Checks, e.Checks), max(last.Accesses, e.Accesses)
		n++
	}
	return n, nil
}

// purgeBatch is how many records one purge transaction clears at most.
const purgeBatch = 1000

// purge clears the reasons of designations ended long enough
// (purgeDesignations) and the personal fields of every record whose purge
// fell due, each with an entry in the audit log that hashes the record as
// it stands once purged (its first entry hashed its evidence), and logs one
// for every record purged before purges were logged. It returns how many
// it purged, or logged as purged before.
func (s *Service) purge(ctx context.Context) (int, error) {
	now := s.now()
	// Each part's failure is logged, and the rest of the tick goes on; a
	// server stopping cancels them, which is no failure.
	total, err := s.purgeDesignations(ctx, now)
	if err != nil && ctx.Err() == nil {
		s.log.Error("purging ended designations", "err", err)
	}
	if _, err := s.expireLogs(ctx, now); err != nil && ctx.Err() == nil {
		s.log.Error("deleting checks and reads of files past their retention", "err", err)
	}
	for {
		es, err := s.store.DuePurges(ctx, now, purgeBatch)
		if err != nil {
			return total, err
		}
		n := len(es)
		if s.auditOff.Load() {
			// The log off (measuring only): records purged without an
			// entry stay so, and are not written again and again.
			es = slices.DeleteFunc(es, func(e socred.Erasure) bool { return e.At.IsZero() })
		}
		if len(es) == 0 {
			return total, nil
		}
		if err := s.commitLogged(ctx, &socred.Write{Now: now, Erase: es}); err != nil {
			return total, err
		}
		total += len(es)
		if n < purgeBatch {
			return total, nil
		}
	}
}
