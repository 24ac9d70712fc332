package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/socred/socred"
)

// journal writes checks and file accesses durably with group commit: every
// caller waits until its entry is committed, and entries that arrive while a
// commit is running share the next one.
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
	audit  func(*socred.CheckEntry) (socred.AuditEntry, bool)
	mu     sync.Mutex
	next   *journalBatch
	last   int // entries in the batch taken last
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
	if c != nil && c.LogIndex == nil {
		c.LogIndex = new(int64) // the check's receipt, filled in by the store
	}
	var entry socred.AuditEntry
	logged := false
	if c != nil && j.audit != nil {
		entry, logged = j.audit(c)
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
		if c != nil && j.audit != nil {
			if e, ok := j.audit(c); ok {
				w.Audit = []socred.AuditEntry{e}
			}
		}
		return j.store.Commit(ctx, w)
	}
	b := j.next
	if b == nil {
		// Sized like the last batch, with room to grow: growing from
		// nothing by doubling costs more, and a full batch's room (64) is
		// three times what a busy server's batches hold (about 21).
		size := min(max(j.last+j.last/2, 8), lingerBatch)
		b = &journalBatch{done: make(chan struct{}), w: socred.Write{Checks: make([]socred.CheckEntry, 0, size)}}
		if logged {
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
			j.linger()
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
}

// linger lets a batch grow for a moment before it is committed: every
// commit costs a sync of the disk, and under load a few hundred
// microseconds gather several times more entries into one. It stops as
// soon as nothing more arrives, so a lone entry waits one step at most.
func (j *journal) linger() {
	last := 0
	for range lingerSteps {
		j.mu.Lock()
		n := 0
		if j.next != nil {
			n = len(j.next.w.Checks) + len(j.next.w.Accesses)
		}
		j.mu.Unlock()
		if n == 0 || n == last || n >= lingerBatch {
			return
		}
		last = n
		time.Sleep(lingerStep)
	}
}

// A batch lingers up to lingerSteps steps of lingerStep while it grows,
// until it holds lingerBatch entries.
const (
	lingerBatch = 64
	lingerSteps = 4
	lingerStep  = 100 * time.Microsecond
)
