package service

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// Who may still join a lingering batch: coming counts the callers on
	// their way to add an entry (expect); active the requests the server
	// is reading or answering (Service.Requests), of which waiting are in
	// a batch. While neither count says anyone is on the way, nothing can
	// join but requests not yet read, and the batch is committed at once.
	// poke wakes the lingering journal when that becomes so; timer times
	// its steps (run's goroutine alone uses it).
	coming  atomic.Int64
	active  atomic.Int64
	waiting atomic.Int64
	poke    chan struct{}
	timer   *time.Timer
	step    time.Duration // lingerStep; tests lengthen it
}

type journalBatch struct {
	w    socred.Write
	done chan struct{}
	err  error
}

func newJournal(store socred.Store, log *slog.Logger) *journal {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &journal{store: store, log: log, kick: make(chan struct{}, 1), poke: make(chan struct{}, 1), timer: t, step: lingerStep}
}

// arrival is a caller on its way to the journal, from expect until it adds
// its entry or turns back (done).
type arrival struct{ j *journal }

// expect counts a caller on its way to add an entry; the caller calls done
// on the arrival once it adds it or returns without (done is idempotent,
// and add calls it).
func (j *journal) expect() arrival {
	if j == nil { // a service not open: nothing to arrive at
		return arrival{}
	}
	j.coming.Add(1)
	return arrival{j}
}

func (a *arrival) done() {
	if a == nil || a.j == nil {
		return
	}
	j := a.j
	a.j = nil
	j.coming.Add(-1)
	j.settled()
}

// requests counts requests begun (+1) and ended (-1) by the server.
func (j *journal) requests(delta int64) {
	if j.active.Add(delta); delta < 0 {
		j.settled()
	}
}

// onTheWay says whether a caller may be on its way to add an entry.
func (j *journal) onTheWay() bool {
	return j.coming.Load() > 0 || j.active.Load() > j.waiting.Load()
}

// settled wakes a lingering journal if nobody is on the way any more.
func (j *journal) settled() {
	if !j.onTheWay() {
		select {
		case j.poke <- struct{}{}:
		default:
		}
	}
}

// add logs a check or an access (either may be nil) and returns once it is
// durable. The caller's arrival, if it had one (expect), is done once the
// entry is in the batch.
func (j *journal) add(ctx context.Context, on *arrival, c *socred.CheckEntry, a *socred.Access) error {
	defer on.done() // on the paths that return before the entry is added
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
		// nothing by doubling costs more, and a full batch's room (64) is
		// three times what a busy server's batches hold (about 21).
		size := min(max(j.last+j.last/2, 8), lingerBatch)
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
	j.waiting.Add(1)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	if on != nil {
		on.done() // and settled
	} else {
		j.settled()
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
			j.linger(ctx)
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
	j.waiting.Add(-int64(len(b.w.Checks) + len(b.w.Accesses)))
	close(b.done)
	j.mu.Lock()
	j.spare.Checks, j.spare.Audit = b.w.Checks[:0], b.w.Audit[:0]
	j.mu.Unlock()
}

// linger lets a batch grow for a moment before it is committed: every
// commit costs a sync of the disk, and under load a few hundred
// microseconds gather several times more entries into one. It stops as
// soon as a step brings nothing more, and at once when no caller is on its
// way to the journal: with few clients, a batch then holds everything
// that could join it. (It used to sleep its steps regardless, and a Go
// timer of less than a millisecond in a process with nothing else to do
// waits for the network poller's timeout of a whole millisecond: with one
// client a check took 1.6 ms, with four 3.1 ms, against a sync of
// 0.08 ms.)
func (j *journal) linger(ctx context.Context) {
	select {
	case <-j.poke: // from before this batch
	default:
	}
	last := 0
	for range lingerSteps {
		j.mu.Lock()
		n := 0
		if j.next != nil {
			n = len(j.next.w.Checks) + len(j.next.w.Accesses)
		}
		j.mu.Unlock()
		if n == 0 || n == last || n >= lingerBatch || !j.wait(ctx, j.step) {
			return
		}
		last = n
	}
}

// wait waits d, and reports whether it did: it returns false at once when
// no caller is on its way to the journal, or as soon as none is (or ctx
// ends).
func (j *journal) wait(ctx context.Context, d time.Duration) bool {
	if !j.onTheWay() {
		return false
	}
	j.timer.Reset(d)
	for {
		select {
		case <-j.timer.C:
			return true
		case <-ctx.Done():
			j.timer.Stop()
			return false
		case <-j.poke:
			if !j.onTheWay() {
				j.timer.Stop()
				return false
			}
		}
	}
}

// A batch lingers up to lingerSteps steps of lingerStep while it grows,
// until it holds lingerBatch entries.
const (
	lingerBatch = 64
	lingerSteps = 4
	lingerStep  = 100 * time.Microsecond
)
