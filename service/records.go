package service

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// MaxBatch is the most records one request may submit.
const MaxBatch = 10_000

// RecordResult is the answer for one submitted record.
type RecordResult struct {
	Key     string          `json:"key"`
	ID      string          `json:"id"`
	Status  string          `json:"status"` // accepted or duplicate
	Derived []DerivedResult `json:"derived"`
	// LogIndex is the record's receipt: its entry in the audit log.
	LogIndex *int64 `json:"log_index,omitempty"`
}

// DerivedResult is a joint-liability record made from a submitted one.
type DerivedResult struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Points  int64  `json:"points"`
	// LogIndex is the derived record's entry in the audit log.
	LogIndex *int64 `json:"log_index,omitempty"`
}

// SubmitRecords stores a batch of records atomically: if any record is
// invalid, none is stored. A key the reporter used before is a duplicate
// when the payload is the same, and a conflict when it differs.
func (s *Service) SubmitRecords(ctx context.Context, c *socred.Caller, in []socred.RecordInput) ([]RecordResult, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	if err := BatchSize(len(in)); err != nil {
		return nil, err
	}
	recs, repeatOf, err := s.validateBatch(ctx, c, in)
	if err != nil {
		return nil, err
	}
	req := &ingest{recs: recs, done: make(chan struct{})}
	if repeatOf != nil {
		req.recs, req.at = firsts(recs, repeatOf)
	}
	s.ingestMu.Lock()
	s.ingestQueue = append(s.ingestQueue, req)
	s.ingestMu.Unlock()
	select {
	case s.ingestKick <- struct{}{}: // a leader waiting beside a commit plans it now
	default:
	}
	// Lead, unless the batch is answered first by the leader of the moment.
	// (Handlers used to queue for the writer lock to lead, and one whose
	// batch was answered could not return until it had the lock, which a
	// leader holds for many commits: their clients sent nothing new
	// meanwhile, the queue ran dry at each commit's end, and leaders
	// stopped after about one commit each, planning the next alone.)
	select {
	case <-req.done:
	case s.ingestLead <- struct{}{}:
		s.leadIngest(context.WithoutCancel(ctx))
		<-req.done
	}
	if req.err != nil {
		return nil, req.err
	}
	if err := s.replayDerived(ctx, req.recs, req.results); err != nil {
		return nil, err
	}
	if repeatOf != nil {
		return spread(req.results, repeatOf), nil
	}
	return req.results, nil
}

// firsts returns the records of a batch that repeat none before them, and
// the index in the batch of each.
func firsts(recs []*socred.Record, repeatOf []int) ([]*socred.Record, []int) {
	out := make([]*socred.Record, 0, len(recs))
	at := make([]int, 0, len(recs))
	for i, r := range recs {
		if repeatOf[i] < 0 {
			out = append(out, r)
			at = append(at, i)
		}
	}
	return out, at
}

// keyConflict is the error of the batch's i-th record, whose key names
// another record: what says which.
func keyConflict(i int, key, what string) error {
	field := "records[" + strconv.Itoa(i) + "].key"
	return &socred.Error{Code: socred.ECONFLICT, Field: field, Message: field + ": key " + strconv.Quote(key) + " " + what}
}

// spread answers each record of a batch from the results of its firsts:
// a record that repeats an earlier one is a duplicate of it, answered as a
// later batch repeating it would be.
func spread(results []RecordResult, repeatOf []int) []RecordResult {
	out := make([]RecordResult, len(repeatOf))
	at := make([]int, len(repeatOf)) // each record's index in results
	k := 0
	for i, j := range repeatOf {
		if j < 0 {
			at[i] = k
			out[i] = results[k]
			k++
			continue
		}
		at[i] = at[j]
		r := results[at[j]]
		r.Status = "duplicate"
		r.Derived = slices.Clone(r.Derived)
		out[i] = r
	}
	return out
}

// BatchSize returns the error of a batch of n records, if n is not a size
// SubmitRecords takes.
func BatchSize(n int) error {
	switch {
	case n == 0:
		return socred.FieldErrorf("records", "at least one record is required")
	case n > MaxBatch:
		return socred.FieldErrorf("records", "at most %d records per batch, got %d", MaxBatch, n)
	}
	return nil
}

// ValidateRecords reports the first of records that SubmitRecords would
// refuse, without storing any: the API asks it of the records before one
// the JSON decoder refused, so that its answer names the first bad record.
func (s *Service) ValidateRecords(ctx context.Context, c *socred.Caller, in []socred.RecordInput) error {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return forbidden("")
	}
	_, _, err := s.validateBatch(ctx, c, in)
	return err
}

// validateBatch validates a batch's records, each against the pack and the
// caller's authority, their keys against each other's and their subjects
// against the store; the error names the first bad record. A key that an
// earlier record of the batch used for the same payload makes the record
// a repeat of that one (repeatOf[i] is its index, -1 for a record that
// repeats none; repeatOf is nil when none does); for another payload, a
// conflict, as it would be in a later batch.
func (s *Service) validateBatch(ctx context.Context, c *socred.Caller, in []socred.RecordInput) (recs []*socred.Record, repeatOf []int, err error) {
	now := s.now()
	recs = make([]*socred.Record, len(in))
	inBatch := make(map[[2]string]int, len(in))
	for i := range in {
		r, err := s.validateRecord(c, &in[i], "records["+strconv.Itoa(i)+"]", now)
		if err == nil {
			if j, ok := inBatch[[2]string{r.Reporter, r.Key}]; ok {
				if samePayload(recs[j], r) {
					if repeatOf == nil {
						repeatOf = make([]int, len(in))
						for k := range repeatOf {
							repeatOf[k] = -1
						}
					}
					repeatOf[i] = j
				} else {
					err = keyConflict(i, r.Key, "is used by records["+strconv.Itoa(j)+"] of this batch for a different record")
				}
			}
		}
		if err != nil {
			// The answer names the first bad record: one before this
			// whose subject is unknown or out of scope comes first.
			if serr := s.checkSubjectsFollowing(ctx, recs[:i]); serr != nil {
				return nil, nil, serr
			}
			return nil, nil, err
		}
		if repeatOf == nil || repeatOf[i] < 0 {
			inBatch[[2]string{r.Reporter, r.Key}] = i
		}
		recs[i] = r
	}
	if err := s.checkSubjectsFollowing(ctx, recs); err != nil {
		return nil, nil, err
	}
	return recs, repeatOf, nil
}

// replayDerived gives each duplicate in results the joint-liability records
// derived from the record it repeats, so that a batch sent again (its
// answer lost, say) is answered as it was the first time.
func (s *Service) replayDerived(ctx context.Context, recs []*socred.Record, results []RecordResult) error {
	for i := range results {
		r := &results[i]
		if r.Status != "duplicate" {
			continue
		}
		id, err := strconv.ParseInt(r.ID, 10, 64)
		if err != nil {
			continue
		}
		derived, err := s.store.DerivedRecords(ctx, socred.RecordRef{ID: id, Subject: recs[i].Subject})
		if err != nil {
			return err
		}
		for _, d := range derived {
			r.Derived = append(r.Derived, DerivedResult{ID: d.ID, Subject: d.Subject, Points: d.Points, LogIndex: d.LogIndex})
		}
	}
	return nil
}

// ingest is one batch waiting to be committed.
type ingest struct {
	// lookup says the batch's keys are looked up in the store before it
	// is planned. Batches are first planned without: the store's unique
	// index refuses a key stored before, and the group is then looked up
	// and planned again. Replays are rare; the lookup costs every batch.
	lookup bool
	// stale counts the commits that failed because another server
	// changed the world first.
	stale   int
	recs    []*socred.Record
	at      []int            // each record's index in the batch as sent, when not its index in recs (a batch that repeats a record)
	fresh   []*socred.Record // the records not stored before
	results []RecordResult
	err     error
	done    chan struct{}
}

// flight is a group of batches whose plan is being committed.
type flight struct {
	reqs  []*ingest
	plan  *engine.Plan
	keys  map[[2]string]*socred.Record // the fresh records, by reporter and key
	done  chan error                   // the commit's outcome
	write *socred.Write
	// ready is closed once the write's notices and audit entries are made
	// (prepare): its commit waits for it, and its batches are not planned
	// again before it. made is why they could not be made, if they
	// could not: the flight then fails without a commit.
	ready chan struct{}
	made  error
	// ended says the outcome was taken from done, into err.
	ended bool
	err   error
}

// wait returns the commit's outcome, waiting for it once.
func (f *flight) wait() error {
	if !f.ended {
		f.err, f.ended = <-f.done, true
	}
	return f.err
}

// maxGroup bounds how many records one commit takes, and maxFlights how
// many commits one leader runs before it hands over the writer lock. A
// group of everything queued (it was up to 50,000 records) made the two
// stages take turns: with clients that send their next batch once the
// last is answered, one large group committing held nearly every client's
// batch, and the other core had nothing to plan (an execution trace of 16
// clients showed tens of milliseconds with the commit alone running).
// Groups of a few batches leave batches queued for the planner while the
// store commits (BENCHMARKS.md: a gain within this machine's noise, since
// the store's commit is the slower stage).
const (
	maxGroup   = 4_000
	maxFlights = 64
)

// leadIngest commits the queued batches. The leader (one handler at a
// time, holding the lead and the writer lock) takes the batches queued by
// then (up to maxGroup records), so batches
// that arrive while a commit runs share the next one (group commit), and
// it plans the next group while the store commits the last (a pipeline
// over two cores). Each batch stays all or nothing: a batch whose key
// conflicts fails alone, and a group whose plan fails is planned batch by
// batch so the error lands on the batch that caused it.
//
// The caller holds the lead (a value in ingestLead); leadIngest gives it
// back when it returns.
func (s *Service) leadIngest(ctx context.Context) {
	defer func() { <-s.ingestLead }()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// The leader holds the turn at writing for its whole run, and starts
	// from every change stored so far. Without either its commits may be
	// stale, and are planned again.
	if release, err := s.takeTurn(ctx); err != nil {
		s.log.Warn("ingest without the turn", "err", err)
	} else {
		defer release()
	}
	if _, err := s.follow(ctx); err != nil {
		s.log.Warn("ingest", "err", err)
	}
	var inFlight *flight
	defer func() {
		// On a panic, settle what is in flight (the store may have it) and
		// answer every waiting batch.
		p := recover()
		if inFlight != nil {
			if _, retry := s.land(inFlight, inFlight.wait()); len(retry) > 0 {
				s.requeue(retry)
			}
		}
		if p != nil {
			for _, req := range s.takeQueue(int(^uint(0) >> 1)) {
				req.err = fmt.Errorf("ingest: %v", p)
				close(req.done)
			}
			panic(p)
		}
	}()
	// A leader hands over after a while, so that other writers (and the
	// scheduler) get the lock under sustained ingest; the next leader is
	// already waiting for it.
	for flights := 0; ; flights++ {
		var next *flight
		if flights < maxFlights {
			next = s.nextFlight(ctx, inFlight)
		}
		if inFlight != nil {
			err := inFlight.wait()
			if ok, retry := s.land(inFlight, err); !ok {
				// next was planned on a change that did not happen: plan
				// its batches again, after those of the failed flight that
				// are to be retried.
				if next != nil {
					<-next.ready
					s.requeue(next.reqs)
					next = nil
				}
				s.requeue(retry)
				if errors.Is(err, socred.ErrStale) {
					// Another server changed the world first: take its
					// changes, then plan the batches again.
					if _, err := s.follow(ctx); err != nil {
						s.log.Error("ingest", "err", err)
					}
				}
			}
			inFlight = nil
		}
		if next == nil {
			if s.queued() == 0 || flights >= maxFlights {
				return
			}
			continue
		}
		next.write.Seq = s.seq + 1
		go func(f *flight) {
			if <-f.ready; f.made != nil {
				f.done <- f.made
				return
			}
			f.done <- s.store.Commit(ctx, f.write)
		}(next)
		// Let the commit start now, on this core: planning the next group
		// would otherwise keep it waiting for the core's next turn.
		runtime.Gosched()
		inFlight = next
	}
}

// nextFlight takes the queued batches and plans them on the flight being
// committed (nil when none is). When nothing is queued it waits, while that
// flight commits, for batches to arrive, and plans those beside the commit:
// returning at once left the planner idle while the store committed, and
// the batches that arrived meanwhile were planned after the commit, with
// the store idle (with clients that send a batch once the last is
// answered, the queue is often empty just after a group is taken). It
// returns nil when the flight's commit ends first, or nothing is queued and
// nothing is in flight.
func (s *Service) nextFlight(ctx context.Context, inFlight *flight) *flight {
	for {
		if group := s.takeQueue(maxGroup); len(group) > 0 {
			if next := s.prepare(ctx, group, inFlight); next != nil {
				if testHookPrepared != nil {
					testHookPrepared(next, inFlight)
				}
				return next
			}
			continue // every batch of the group failed; take the next
		}
		if inFlight == nil || inFlight.ended {
			return nil
		}
		select {
		case <-s.ingestKick:
		case inFlight.err = <-inFlight.done:
			inFlight.ended = true
			return nil
		}
	}
}

// testHookPrepared, when set by a test, is called with every group planned
// and the flight being committed beside it (nil when none is).
var testHookPrepared func(next, inFlight *flight)

// takeQueue removes queued batches, up to about max records.
func (s *Service) takeQueue(max int) []*ingest {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	n, size := 0, 0
	for n < len(s.ingestQueue) && (n == 0 || size+len(s.ingestQueue[n].recs) <= max) {
		size += len(s.ingestQueue[n].recs)
		n++
	}
	group := s.ingestQueue[:n:n]
	s.ingestQueue = s.ingestQueue[n:]
	return group
}

func (s *Service) queued() int {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	return len(s.ingestQueue)
}

// requeue puts batches back at the head of the queue.
func (s *Service) requeue(reqs []*ingest) {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	for _, r := range reqs {
		r.fresh, r.results, r.err = nil, nil, nil
		for _, rec := range r.recs {
			rec.ID = ""
		}
	}
	s.ingestQueue = append(reqs[:len(reqs):len(reqs)], s.ingestQueue...)
}

// prepare resolves a group's keys and plans it on the flight before it (nil
// when nothing is in flight). Batches that fail are answered at once; it
// returns nil when none is left.
func (s *Service) prepare(ctx context.Context, group []*ingest, before *flight) *flight {
	answer := func(req *ingest, err error) {
		req.err = err
		close(req.done)
	}
	var base *engine.Plan
	pending := map[[2]string]*socred.Record{}
	if before != nil {
		base, pending = before.plan, before.keys
	}
	existing, stored, err := s.existing(ctx, group, pending)
	if err != nil {
		for _, req := range group {
			answer(req, err)
		}
		return nil
	}
	f := &flight{keys: make(map[[2]string]*socred.Record, groupRecords(group)), done: make(chan error, 1)}
	for _, req := range group {
		if err := s.resolve(req, existing, stored); err != nil {
			answer(req, err)
			continue
		}
		f.reqs = append(f.reqs, req)
	}
	now := s.now()
	plan, err := s.planIngest(base, f.reqs, now)
	if err != nil && len(f.reqs) > 1 {
		var ok []*ingest
		for _, req := range f.reqs {
			if _, err := s.planIngest(base, []*ingest{req}, now); err != nil {
				answer(req, err)
			} else {
				ok = append(ok, req)
			}
		}
		f.reqs = ok
		plan, err = s.planIngest(base, f.reqs, now)
	}
	if err != nil {
		for _, req := range f.reqs {
			answer(req, err)
		}
		return nil
	}
	if len(f.reqs) == 0 {
		return nil
	}
	f.plan = plan
	f.write = &socred.Write{Now: now, Events: plan.Events, Records: make([]*socred.Record, 0, groupRecords(f.reqs)+len(plan.Derived))}
	for _, req := range f.reqs {
		for _, r := range req.fresh {
			f.write.Records = append(f.write.Records, r)
			f.keys[[2]string{r.Reporter, r.Key}] = r
		}
	}
	f.write.Records = append(f.write.Records, plan.Derived...)
	s.addPurges(f.write)
	// The notices, the audit log's entries and the change feed's entry are
	// made behind the plan, while the leader goes on (a third stage: the
	// flight's commit starts once they are made), and side by side: they
	// read the write and fill in parts of it that the other does not
	// touch. Made by the leader, they stretched the cycle of planning a
	// group, waiting for the commit before and starting this one's by a
	// fifth.
	f.ready = make(chan struct{})
	go func() {
		defer close(f.ready)
		// A panic here fails the flight, not the server: the leader
		// recovers its own, but these goroutines are not its.
		var wg sync.WaitGroup
		var notices, audit error
		wg.Go(func() { notices = s.recovered("notices", func() { s.addNotices(f.write) }) })
		audit = s.recovered("audit entries", func() {
			s.audit(f.write)
			// The change feed's entry too, which the store made under its
			// lock, on the commit's path (a bad record id is left for the
			// store to report).
			if body, err := socred.ChangeBody(f.write); err == nil {
				f.write.ChangeBody = body
			}
		})
		wg.Wait()
		f.made = errors.Join(notices, audit)
	}()
	return f
}

// recovered runs fn, and returns its panic, if any, as an error.
func (s *Service) recovered(what string, fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("ingest: making "+what+" failed", "panic", p)
			err = fmt.Errorf("ingest: making %s: %v", what, p)
		}
	}()
	if testHookMake != nil {
		testHookMake(what)
	}
	fn()
	return nil
}

// testHookMake, when set by a test, is called before the notices and the
// audit entries of a group are made.
var testHookMake func(what string)

func (s *Service) planIngest(base *engine.Plan, reqs []*ingest, now time.Time) (*engine.Plan, error) {
	var recs []*socred.Record
	for _, req := range reqs {
		recs = append(recs, req.fresh...)
	}
	s.mu.RLock()
	plan, err := s.world.PlanOn(base, engine.Change{Records: recs}, now, s.ids.next)
	s.mu.RUnlock()
	if err == nil && s.ids.err != nil {
		err, s.ids.err = fmt.Errorf("reserve ids: %w", s.ids.err), nil
	}
	return plan, err
}

// land finishes a flight whose commit returned err: on success it publishes
// the plan and fills in the derived records. It answers the flight's
// batches and reports whether the commit succeeded; when it failed only
// because a key was stored before, it answers none and returns the batches
// to plan again with their keys looked up.
func (s *Service) land(f *flight, err error) (bool, []*ingest) {
	if err == nil {
		s.seq = f.write.Seq
		s.noticesWritten(f.write)
		s.mu.Lock()
		err = s.world.Apply(f.plan)
		s.mu.Unlock()
		s.applied.Store(f.write.Seq)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if err != nil {
		if errors.Is(err, socred.ErrStale) {
			var retry []*ingest
			for _, req := range f.reqs {
				if req.stale++; req.stale < maxStale {
					retry = append(retry, req)
				} else {
					req.err = fmt.Errorf("commit: %w", err)
					close(req.done)
				}
			}
			return false, retry
		}
		if socred.ErrorCode(err) == socred.ECONFLICT && slices.ContainsFunc(f.reqs, func(r *ingest) bool { return !r.lookup }) {
			for _, req := range f.reqs {
				req.lookup = true
			}
			return false, f.reqs
		}
		for _, req := range f.reqs {
			req.err = fmt.Errorf("commit: %w", err)
			close(req.done)
		}
		return false, nil
	}
	if len(f.plan.Derived) > 0 {
		f.derived()
	}
	for _, req := range f.reqs {
		close(req.done)
	}
	return true, nil
}

// derived adds the joint-liability records the flight's plan derived to
// the results of the records they were derived from.
func (f *flight) derived() {
	byID := make(map[string]*RecordResult)
	for _, req := range f.reqs {
		for i := range req.results {
			byID[req.results[i].ID] = &req.results[i]
		}
	}
	for _, d := range f.plan.Derived {
		if res := byID[d.DerivedFrom.Record]; res != nil {
			res.Derived = append(res.Derived, DerivedResult{ID: d.ID, Subject: d.Subject, Points: d.Points, LogIndex: d.LogIndex})
		}
	}
}

// groupRecords is how many records the batches of a group hold.
func groupRecords(group []*ingest) int {
	n := 0
	for _, req := range group {
		n += len(req.recs)
	}
	return n
}

// existing finds the records with the group's keys among those of the
// flight being committed and, for the batches to look up, in the store;
// stored holds those found in the store.
func (s *Service) existing(ctx context.Context, group []*ingest, pending map[[2]string]*socred.Record) (existing map[[2]string]*socred.Record, stored map[*socred.Record]bool, err error) {
	byReporter := map[string][]string{}
	// The group's fresh records join it (resolve).
	existing = make(map[[2]string]*socred.Record, groupRecords(group))
	for _, req := range group {
		for _, r := range req.recs {
			k := [2]string{r.Reporter, r.Key}
			if p, ok := pending[k]; ok {
				existing[k] = p
				continue
			}
			if req.lookup {
				byReporter[r.Reporter] = append(byReporter[r.Reporter], r.Key)
			}
		}
	}
	for reporter, keys := range byReporter {
		found, err := s.store.RecordsByKey(ctx, reporter, keys)
		if err != nil {
			return nil, nil, err
		}
		for k, r := range found {
			existing[[2]string{reporter, k}] = r
			if stored == nil {
				stored = map[*socred.Record]bool{}
			}
			stored[r] = true
		}
	}
	return existing, stored, nil
}

// resolve sorts a batch's records into duplicates and fresh ones, which get
// their ids; a key used before for a different record is a conflict.
// Fresh records join existing, so a later batch of the group sees them.
func (s *Service) resolve(req *ingest, existing map[[2]string]*socred.Record, stored map[*socred.Record]bool) error {
	req.results = make([]RecordResult, len(req.recs))
	req.fresh = make([]*socred.Record, 0, len(req.recs))
	for i, r := range req.recs {
		if old, ok := existing[[2]string{r.Reporter, r.Key}]; ok {
			if !samePayload(old, r) {
				// The record it clashes with is named only when stored:
				// one of a batch sent at the same moment has an id that
				// its commit may yet give up.
				by := "a batch sent at the same time"
				if stored[old] {
					by = "record " + old.ID
				}
				if req.at != nil {
					i = req.at[i]
				}
				return keyConflict(i, r.Key, "was already used for a different record ("+by+")")
			}
			req.results[i] = RecordResult{Key: r.Key, ID: old.ID, Status: "duplicate", Derived: []DerivedResult{}, LogIndex: old.LogIndex}
			continue
		}
		req.fresh = append(req.fresh, r)
		if r.LogIndex == nil && !s.auditOff.Load() {
			r.LogIndex = new(int64) // the receipt, filled in by the store
		}
		req.results[i] = RecordResult{Key: r.Key, Status: "accepted", Derived: []DerivedResult{}, LogIndex: r.LogIndex}
	}
	for _, r := range req.fresh {
		r.ID = strconv.FormatInt(s.ids.next(), 10)
		existing[[2]string{r.Reporter, r.Key}] = r
	}
	j := 0
	for i := range req.results {
		if req.results[i].Status == "accepted" {
			req.results[i].ID = req.fresh[j].ID
			j++
		}
	}
	return nil
}

// validateRecord checks one record against the pack and the caller and
// returns it ready to store (no id yet).
func (s *Service) validateRecord(c *socred.Caller, in *socred.RecordInput, prefix string, now time.Time) (*socred.Record, error) {
	// The right to report for the scheme first: another authority's
	// record is forbidden whatever else is wrong with it.
	sc := s.pack.Scheme(in.Scheme)
	reporter := ""
	if sc != nil {
		reporter = sc.Authority
		if c.Role() == socred.RoleAuthority {
			reporter = c.Token.Authority
			if sc.Authority != reporter {
				return nil, &socred.Error{Code: socred.EFORBIDDEN, Field: prefix + ".scheme",
					Message: prefix + ".scheme: scheme " + strconv.Quote(sc.ID) + " is run by " + strconv.Quote(sc.Authority) + "; this token reports for " + strconv.Quote(reporter)}
			}
		}
	}
	if err := in.Validate(prefix, now); err != nil {
		return nil, err
	}
	if sc == nil {
		return nil, socred.FieldErrorf(prefix+".scheme", "unknown scheme %q", in.Scheme)
	}
	rule := sc.Rule(in.Rule)
	if rule == nil {
		return nil, socred.FieldErrorf(prefix+".rule", "unknown rule %q in scheme %q", in.Rule, in.Scheme)
	}
	at := in.OccurredAt.UTC().Truncate(time.Microsecond)
	return &socred.Record{
		Key:         in.Key,
		Subject:     in.Subject,
		Scheme:      sc.ID,
		Rule:        rule.ID,
		Points:      rule.Points,
		OccurredAt:  at,
		CountsUntil: rule.CountsFor.AddTo(at),
		Reporter:    reporter,
		Evidence:    in.Evidence,
		AcceptedAt:  now,
	}, nil
}

// checkSubjectsFollowing is checkSubjects, after taking the changes of
// other servers sharing the store when a subject is not known here: it may
// be new there.
func (s *Service) checkSubjectsFollowing(ctx context.Context, recs []*socred.Record) error {
	err := s.checkSubjects(recs)
	if err == nil {
		return nil
	}
	// Checked again whether or not this call found changes to follow: the
	// server's tail may have taken them just before.
	if _, ferr := s.Follow(ctx); ferr != nil {
		return err
	}
	return s.checkSubjects(recs)
}

// checkSubjects checks that every record's subject exists and is in its
// scheme's scope.
func (s *Service) checkSubjects(recs []*socred.Record) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, r := range recs {
		ent := s.world.Entry(r.Subject)
		if ent == nil {
			return socred.FieldErrorf("records["+strconv.Itoa(i)+"].subject", "unknown subject %q", r.Subject)
		}
		if !s.pack.Scheme(r.Scheme).Scope.Contains(ent.Subject) {
			return socred.FieldErrorf("records["+strconv.Itoa(i)+"].subject", "subject %q is outside the scope of scheme %q", r.Subject, r.Scheme)
		}
		// The subject's own id string from here on: the maps keyed by
		// subject (the world's, the plan's, the store's index) compare a
		// key that is the same string by its address, without reading the
		// bytes of a key elsewhere in memory (a cache miss each: memeqbody
		// was 5-6 % of ingest's CPU when every record brought its own copy).
		r.Subject = ent.Subject.ID
	}
	return nil
}

func samePayload(a, b *socred.Record) bool {
	return a.Subject == b.Subject && a.Scheme == b.Scheme && a.Rule == b.Rule &&
		a.OccurredAt.Equal(b.OccurredAt) && (a.Evidence == b.Evidence || a.PurgedAt != nil)
}
