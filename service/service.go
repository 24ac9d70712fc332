// Package service is socred's application service: the JSON API and the web
// pages call it; it validates, asks the engine what a change does, commits
// the change in one store transaction, then publishes it to the in-memory
// world that answers checks.
package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
	"golang.org/x/sync/singleflight"
)

// Service is socred's application service. Create it with New, start it
// with Open, stop it with Close.
type Service struct {
	// Now is the clock; tests replace it. It must never run backwards.
	Now func() time.Time
	// AdminToken, when set, is the admin's bearer token.
	AdminToken string
	// Logger receives the service's log.
	Logger *slog.Logger
	// SchedulerIdle bounds how long the scheduler sleeps when nothing is
	// due, so the settled time keeps moving.
	SchedulerIdle time.Duration
	// Channels deliver notices to their subjects; with none, notices are
	// kept in the files only.
	Channels []Channel
	// FeedPoll is how often the service looks for changes that other
	// servers sharing the store made, when the store cannot tell it.
	FeedPoll time.Duration
	// CheckpointEvery is how often the audit log is checkpointed when it
	// grew: entries after the last checkpoint are covered by no signature.
	CheckpointEvery time.Duration
	// AuditSigner, when set, is the key that signs the audit log's
	// checkpoints (a signed-note Ed25519 signer key); without it the key
	// kept with the data signs, made at the first start.
	AuditSigner string
	// CheckRetention is how long checks and reads of files are kept, from
	// when they were made; zero means DefaultCheckRetention.
	CheckRetention socred.Duration

	store  socred.Store
	leads  *socred.NoticeLeads // the store's, if it keeps notices' leads once (socred.LeadKeeper)
	eng    *engine.Engine
	pack   *socred.Pack
	log    *slog.Logger
	admin  [32]byte
	tokens sync.Map // hash → cachedToken
	// tokenReads reads a token from the store once for all the requests
	// that miss it together; tokenGen counts the revocations made here,
	// so that a read begun before one is neither cached nor shared after.
	tokenReads singleflight.Group
	tokenGen   atomic.Uint64

	mu    sync.RWMutex // guards world: read for plans and decisions, write to apply
	world *engine.World
	wmu   sync.Mutex // serialises writes: plan, commit, apply
	ids   idBlock

	journal *journal
	keys    socred.AuditKeys // the audit log's, from Open
	grades  gradeCache
	// authFails counts failed authentications by client.
	authFails authLimiter
	// auditOff leaves changes and checks out of the audit log; only for
	// measuring what the log costs (SetAuditOff).
	auditOff atomic.Bool

	ingestMu    sync.Mutex
	ingestQueue []*ingest     // batches waiting for the writer
	ingestKick  chan struct{} // a batch was queued (buffered: 1)
	ingestLead  chan struct{} // holds a value while a handler leads the ingest (leadIngest)
	settled     time.Time     // the settled time last written; guarded by wmu
	dueBatch    int           // about how many due subjects a write takes
	seq         int64         // the last change of the feed the world includes; guarded by wmu
	applied     atomic.Int64  // seq, once the world holds it: for reads without wmu (barrier)
	barrier     barrier
	wake        chan struct{}
	noticeWake  chan struct{}
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	lastNow     time.Time
	nowMu       sync.Mutex
}

// New returns a service over a store and a loaded pack.
func New(store socred.Store, p *socred.Pack) (*Service, error) {
	eng, err := engine.New(p)
	if err != nil {
		return nil, fmt.Errorf("compile pack: %w", err)
	}
	var leads *socred.NoticeLeads
	if k, ok := store.(socred.LeadKeeper); ok {
		leads = k.NoticeLeads()
	}
	return &Service{
		leads:           leads,
		Now:             time.Now,
		SchedulerIdle:   10 * time.Second,
		FeedPoll:        FeedPoll,
		CheckpointEvery: time.Minute,
		dueBatch:        dueBatch,
		store:           store,
		eng:             eng,
		pack:            p,
		world:           engine.NewWorld(eng),
		wake:            make(chan struct{}, 1),
		noticeWake:      make(chan struct{}, 1),
		ingestKick:      make(chan struct{}, 1),
		ingestLead:      make(chan struct{}, 1),
	}, nil
}

// Population returns the number of subjects.
func (s *Service) Population() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.world.Len()
}

// Pack returns the loaded scheme pack.
func (s *Service) Pack() *socred.Pack { return s.pack }

// Open loads the world from the store, applies the time-driven changes that
// fell due while the server was down, and starts the scheduler and the
// journal of checks.
func (s *Service) Open(ctx context.Context) error {
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.AdminToken != "" {
		s.admin = sha256.Sum256([]byte(s.AdminToken))
	}
	start := time.Now()
	ld := &loader{w: s.world}
	// Loading builds a large heap of long-lived objects from nothing; a
	// collection at every doubling would mark it again and again. It ends
	// with Settle, which hands the loaded facts out to their subjects.
	gogc := debug.SetGCPercent(800)
	if gogc < 0 || gogc > 800 {
		debug.SetGCPercent(gogc)
	}
	err := s.store.Load(ctx, ld)
	if err != nil {
		debug.SetGCPercent(gogc)
		return fmt.Errorf("load: %w", err)
	}
	s.seq = ld.seq
	s.applied.Store(ld.seq)
	settled := ld.settled
	if settled.IsZero() {
		settled = s.now()
	}
	s.world.Settle(settled)
	debug.SetGCPercent(gogc)
	s.log.Info("world loaded", "subjects", s.world.Len(), "records", ld.records.Load(), "settled", settled, "took", time.Since(start).Round(time.Millisecond))
	s.ids.store = s.store
	if h, ok := s.store.(socred.FeedHeader); ok {
		s.barrier.heads = h // a store other servers write too
	}
	if err := s.openAudit(ctx); err != nil {
		return err
	}
	s.journal = newJournal(s.store, s.log)
	s.journal.deliver, s.journal.written, s.journal.audit, s.journal.auditAccess = s.delivering(), s.noticesWritten, s.auditCheck, s.auditAccess
	ctx, s.cancel = context.WithCancel(context.Background())
	n, err := s.catchUp(ctx)
	if err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	if n > 0 {
		s.log.Info("caught up on time-driven changes", "subjects", n)
	}
	s.wg.Add(4)
	go func() { defer s.wg.Done(); s.checkpointLoop(ctx) }()
	if s.delivering() {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.deliver(ctx) }()
	}
	go func() { defer s.wg.Done(); s.journal.run(ctx) }()
	go func() { defer s.wg.Done(); s.schedule(ctx) }()
	go func() { defer s.wg.Done(); s.tail(ctx) }()
	return nil
}

// Close stops the background work, flushing the journal.
func (s *Service) Close(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// now returns the clock's time, never earlier than a time it returned
// before, truncated to microseconds (what every store keeps).
func (s *Service) now() time.Time {
	t := s.Now().UTC().Truncate(time.Microsecond)
	s.nowMu.Lock()
	defer s.nowMu.Unlock()
	if t.Before(s.lastNow) {
		t = s.lastNow
	}
	s.lastNow = t
	return t
}

// Health reports whether the store is reachable.
func (s *Service) Health(ctx context.Context) error { return s.store.Ping(ctx) }

// maxStale is how often a writer plans a change again because another
// server changed the world first, before it gives up.
const maxStale = 10

// locked runs fn under the writer lock on a world that includes every
// change stored so far. fn validates against the world and the store and
// commits; when another server changed the world in between (the commit
// fails with socred.ErrStale), locked takes that change and runs fn again.
func (s *Service) locked(ctx context.Context, fn func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	release, err := s.takeTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	for attempt := 1; ; attempt++ {
		if _, err := s.follow(ctx); err != nil {
			return err
		}
		err := fn()
		if !errors.Is(err, socred.ErrStale) || attempt == maxStale {
			return err
		}
	}
}

// takeTurn waits for this server's turn at writing changes when the store
// has turns (socred.TurnTaker), so that servers writing at once do not keep
// making each other's writes stale. The caller holds s.wmu.
func (s *Service) takeTurn(ctx context.Context) (release func(), err error) {
	tt, ok := s.store.(socred.TurnTaker)
	if !ok {
		return func() {}, nil
	}
	release, err = tt.TakeTurn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the turn at writing: %w", err)
	}
	return release, nil
}

// commit plans c, commits it and publishes it to the world. The caller
// holds s.wmu, which serialises writers; run under locked, a commit that
// another server's change made stale is planned again.
func (s *Service) commit(ctx context.Context, now time.Time, c engine.Change) (*engine.Plan, error) {
	return s.commitWith(ctx, now, c, nil)
}

// commitWith is commit with more in the same write: extra adds to the
// write before it is committed.
func (s *Service) commitWith(ctx context.Context, now time.Time, c engine.Change, extra func(*socred.Write)) (*engine.Plan, error) {
	s.mu.RLock()
	plan, err := s.world.Plan(c, now, s.ids.next)
	s.mu.RUnlock()
	if err == nil && s.ids.err != nil {
		err, s.ids.err = fmt.Errorf("reserve ids: %w", s.ids.err), nil
	}
	if err != nil {
		return nil, err
	}
	explainEnds(plan.Events, c.Designations)
	w := &socred.Write{
		Now:          now,
		Subjects:     c.Subjects,
		Relate:       c.Relate,
		Unrelate:     c.Unrelate,
		Records:      append(c.Records[:len(c.Records):len(c.Records)], plan.Derived...),
		Designations: c.Designations,
		Events:       plan.Events,
	}
	if extra != nil {
		extra(w)
	}
	s.addPurges(w)
	s.addNotices(w)
	return plan, s.publish(ctx, plan, w)
}

// explainEnds gives the events of entries that designations ended early
// their end's reason, which the engine, holding the entry as it was, does
// not know: so a notice says why the subject left the list.
func explainEnds(events []socred.Event, ds []*socred.Designation) {
	for _, d := range ds {
		if d.EndedAt == nil || d.EndReason == "" {
			continue
		}
		for i := range events {
			e := &events[i]
			if e.Kind == socred.EventDelisted && e.Listing != nil && e.Listing.Designation == d.ID && e.Listing.EndReason == "" {
				ls := *e.Listing
				ls.EndReason = d.EndReason
				e.Listing = &ls
			}
		}
	}
}

// publish commits w as the next change of the feed and then applies plan
// to the world. The caller holds s.wmu.
func (s *Service) publish(ctx context.Context, plan *engine.Plan, w *socred.Write) error {
	w.Seq = s.seq + 1
	s.audit(w)
	if err := s.store.Commit(ctx, w); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.seq = w.Seq
	s.noticesWritten(w)
	s.mu.Lock()
	err := s.world.Apply(plan)
	s.mu.Unlock()
	s.applied.Store(w.Seq)
	if err != nil {
		// Cannot happen while writers are serialised.
		return fmt.Errorf("apply: %w", err)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// idBlock hands out record ids from blocks reserved in the store. It is
// used only under the writer lock.
type idBlock struct {
	store    socred.Store
	cur, end int64
	err      error
}

// idBlockSize is how many ids a server reserves at once.
const idBlockSize = 100_000

// next returns the next id; on a store failure it records the error (the
// commit then fails) and returns a placeholder.
func (b *idBlock) next() int64 {
	if b.cur >= b.end {
		first, err := b.store.ReserveIDs(context.Background(), idBlockSize)
		if err != nil {
			b.err = err
			return 1
		}
		b.cur, b.end = first, first+idBlockSize
	}
	id := b.cur
	b.cur++
	return id
}

// loader feeds a store's state into a world.
type loader struct {
	w       *engine.World
	records atomic.Int64
	settled time.Time
	seq     int64
}

func (l *loader) Subject(s *socred.Subject) error  { l.w.LoadSubject(s); return nil }
func (l *loader) Relation(r socred.Relation) error { return l.w.LoadRelation(r) }
func (l *loader) Record(r *socred.CountingRecord) error {
	l.records.Add(1)
	return l.w.LoadFact(r)
}
func (l *loader) Records(rs []socred.CountingRecord) error {
	l.records.Add(int64(len(rs)))
	return l.w.LoadFacts(rs)
}
func (l *loader) Designation(d *socred.Designation) error { return l.w.LoadDesignation(d) }
func (l *loader) Listing(subject, list string, since time.Time) error {
	return l.w.LoadListing(subject, list, since)
}
func (l *loader) Settled(t time.Time, seq int64) error {
	l.settled, l.seq = t, seq
	return nil
}

// Authenticate returns the caller a bearer token stands for. An empty token
// is the anonymous caller; an unknown one is unauthorized.
func (s *Service) Authenticate(ctx context.Context, token string) (*socred.Caller, error) {
	if token == "" {
		return &socred.Caller{}, nil
	}
	return s.callerByHash(ctx, sha256.Sum256([]byte(token)))
}

// callerByHash returns the caller whose token hashes to h.
func (s *Service) callerByHash(ctx context.Context, h [32]byte) (*socred.Caller, error) {
	if s.AdminToken != "" && subtle.ConstantTimeCompare(h[:], s.admin[:]) == 1 {
		return &socred.Caller{Token: &socred.Token{ID: "admin", Role: socred.RoleAdmin, Name: "admin"}}, nil
	}
	key := string(h[:])
	if v, ok := s.tokens.Load(key); ok && time.Since(v.(cachedToken).at) < TokenCacheTTL {
		return tokenCaller(v.(cachedToken).t)
	}
	// A token in use expires for every connection at once: the requests
	// that miss it together (as many as there are connections, under
	// load) share one read.
	gen := s.tokenGen.Load()
	read := s.tokenReads.DoChan(strconv.FormatUint(gen, 10)+":"+key, func() (any, error) {
		at := time.Now()
		t, err := s.store.TokenByHash(context.WithoutCancel(ctx), h[:])
		if err != nil {
			return nil, err
		}
		c := cachedToken{t: t, at: at}
		s.tokens.Store(key, c)
		if s.tokenGen.Load() != gen {
			// Revoked here meanwhile, perhaps after this read.
			s.tokens.CompareAndDelete(key, c)
		}
		return t, nil
	})
	var r singleflight.Result
	select {
	case r = <-read:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if socred.ErrorCode(r.Err) == socred.ENOTFOUND {
		return nil, socred.Errorf(socred.EUNAUTHORIZED, "unknown token")
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return tokenCaller(r.Val.(*socred.Token))
}

// TokenCacheTTL is how long a server trusts a token it read from the
// store before reading it again: how long a token revoked at another
// server sharing the store may still be taken here. A read of a token a
// second for each token in use costs nothing a busy server would notice.
const TokenCacheTTL = time.Second

// cachedToken is a token as read from the store, and when.
type cachedToken struct {
	t  *socred.Token
	at time.Time
}

func tokenCaller(t *socred.Token) (*socred.Caller, error) {
	if t.RevokedAt != nil {
		return nil, socred.Errorf(socred.EUNAUTHORIZED, "revoked token")
	}
	return &socred.Caller{Token: t}, nil
}

var errForbidden = socred.Errorf(socred.EFORBIDDEN, "this token may not do that")

func forbidden(format string, args ...any) error {
	if format == "" {
		return errForbidden
	}
	return socred.Errorf(socred.EFORBIDDEN, format, args...)
}

// isNotFound reports whether err is an application not_found error.
func isNotFound(err error) bool {
	var e *socred.Error
	return errors.As(err, &e) && e.Code == socred.ENOTFOUND
}
