package service

import (
	"context"
	"log/slog"
	"sync"

	"github.com/socred/socred"
)

// journal writes checks and file accesses durably with group commit: every
// caller waits until its entry is committed, and entries that arrive while a
// commit is running share the next one, which begins as soon as that one
// ends. (It used to let a batch linger a few hundred microseconds for more
// entries, counting the requests on their way to it; the checks' rate was
// about 6 % lower with the linger than without, on average over eight
// alternated runs each: BENCHMARKS.md.)
type journal struct {
	store socred.Store
	log   *slog.Logger
	// deliver says notices are to be delivered; written is called with
	// every committed write.
	deliver bool
	written func(*socred.Write)
	// audit returns a check's entry in the audit log, if it is logged;
	// it is called by the checking goroutine, so that hashing is not
	// done in turn by the committing one.
	audit func(*socred.CheckEntry) (socred.AuditEntry, bool)
	// auditAccess does the same for an access.
	auditAccess func(*socred.Access) (socred.AuditEntry, bool)
	mu          sync.Mutex
	next        *journalBatch
	last        int // entries in the batch taken last
	// spare holds the arrays of the batch committed last, emptied, for the
	// next one: a store keeps no reference to a write's checks and audit
	// entries once Commit returns (socred.Store), and the batch's callers
	// read only its error.
	spare  socred.Write
	kick   chan struct{}
	closed bool
}

type journalBatch struct {
	w    socred.Write
	done chan struct{}
	err  error
}

func newJournal(store socred.Store, log *slog.Logger) *journal {
	return &journal{store: store, log: log, kick: make(chan struct{}, 1)}
}

// add logs a check or an access (either may be nil) and returns once it is
// durable.
func (j *journal) add(ctx context.Context, c *socred.CheckEntry, a *socred.Access) error {
	// The check's receipt is made with its entry (audit), and filled in by
	// the store; a check not logged has none.
	var entry, accessEntry socred.AuditEntry
	logged, accessLogged := false, false
	if c != nil && j.audit != nil {
		entry, logged = j.audit(c)
	}
	if a != nil && j.auditAccess != nil {
		accessEntry, accessLogged = j.auditAccess(a)
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		w := &socred.Write{}
		if c != nil {
			w.Checks = []socred.CheckEntry{*c}
			if !c.Allowed {
				w.Notices, w.Deliver = []socred.Notice{socred.CheckNotice(c)}, j.deliver
			}
		}
		if a != nil {
			w.Accesses = []socred.Access{*a}
		}
		if logged {
			w.Audit = append(w.Audit, entry)
		}
		if accessLogged {
			w.Audit = append(w.Audit, accessEntry)
		}
		return j.store.Commit(ctx, w)
	}
	b := j.next
	if b == nil {
		// Sized like the last batch, with room to grow: growing from
		// nothing by doubling costs more.
		size := min(max(j.last+j.last/2, 8), batchRoom)
		b = &journalBatch{done: make(chan struct{}), w: socred.Write{Checks: j.spare.Checks, Audit: j.spare.Audit}}
		j.spare.Checks, j.spare.Audit = nil, nil
		if cap(b.w.Checks) < size {
			b.w.Checks = make([]socred.CheckEntry, 0, size)
		}
		if logged && cap(b.w.Audit) < size {
			b.w.Audit = make([]socred.AuditEntry, 0, size)
		}
		j.next = b
	}
	if c != nil {
		b.w.Checks = append(b.w.Checks, *c)
		if logged {
			// The k-th check entry names the write's k-th check.
			b.w.Audit = append(b.w.Audit, entry)
		}
		if !c.Allowed {
			// A denial is notified to the subject with the check's log.
			b.w.Notices = append(b.w.Notices, socred.CheckNotice(c))
			b.w.Deliver = j.deliver
		}
	}
	if a != nil {
		b.w.Accesses = append(b.w.Accesses, *a)
		if accessLogged {
			// The k-th access entry names the write's k-th access.
			b.w.Audit = append(b.w.Audit, accessEntry)
		}
	}
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run commits batches until ctx ends, then flushes what is pending.
func (j *journal) run(ctx context.Context) {
	for {
		select {
		case <-j.kick:
			j.flush(ctx)
		case <-ctx.Done():
			j.mu.Lock()
			j.closed = true
			j.mu.Unlock()
			j.flush(context.Background())
			return
		}
	}
}

func (j *journal) flush(ctx context.Context) {
	j.mu.Lock()
	b := j.next
	j.next = nil
	if b != nil {
		j.last = len(b.w.Checks)
	}
	j.mu.Unlock()
	if b == nil {
		return
	}
	b.err = j.store.Commit(ctx, &b.w)
	if b.err != nil {
		j.log.Error("journal commit failed", "checks", len(b.w.Checks), "accesses", len(b.w.Accesses), "err", b.err)
	} else if j.written != nil {
		j.written(&b.w)
	}
	close(b.done)
	j.mu.Lock()
	j.spare.Checks, j.spare.Audit = b.w.Checks[:0], b.w.Audit[:0]
	j.mu.Unlock()
}

// batchRoom is the most room a new batch is made with: half as much again
// as the last batch held, up to this; a larger batch grows by appending.
const batchRoom = 64
