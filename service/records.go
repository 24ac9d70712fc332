package service

import (
	"context"
	"fmt"
	"strconv"
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
}

// DerivedResult is a joint-liability record made from a submitted one.
type DerivedResult struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Points  int64  `json:"points"`
}

// SubmitRecords stores a batch of records atomically: if any record is
// invalid, none is stored. A key the reporter used before is a duplicate
// when the payload is the same, and a conflict when it differs.
func (s *Service) SubmitRecords(ctx context.Context, c *socred.Caller, in []socred.RecordInput) ([]RecordResult, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	switch {
	case len(in) == 0:
		return nil, socred.FieldErrorf("records", "at least one record is required")
	case len(in) > MaxBatch:
		return nil, socred.FieldErrorf("records", "at most %d records per batch, got %d", MaxBatch, len(in))
	}
	now := s.now()
	recs := make([]*socred.Record, len(in))
	inBatch := make(map[[2]string]int, len(in))
	for i := range in {
		r, err := s.validateRecord(c, &in[i], "records["+strconv.Itoa(i)+"]", now)
		if err != nil {
			return nil, err
		}
		k := [2]string{r.Reporter, r.Key}
		if j, ok := inBatch[k]; ok {
			return nil, socred.FieldErrorf("records["+strconv.Itoa(i)+"].key", "key %q is also used by records[%d] in this batch", r.Key, j)
		}
		inBatch[k] = i
		recs[i] = r
	}
	if err := s.checkSubjects(recs); err != nil {
		return nil, err
	}

	req := &ingest{recs: recs, done: make(chan struct{})}
	s.ingestMu.Lock()
	s.ingestQueue = append(s.ingestQueue, req)
	s.ingestMu.Unlock()
	// Whoever holds the writer lock commits every batch queued by then: the
	// batches that arrive while a commit runs share the next one.
	s.leadIngest(context.WithoutCancel(ctx), now)
	<-req.done
	return req.results, req.err
}

// leadIngest takes the writer lock and commits the queued batches.
func (s *Service) leadIngest(ctx context.Context, now time.Time) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ingestMu.Lock()
	group := s.ingestQueue
	s.ingestQueue = nil
	s.ingestMu.Unlock()
	if len(group) > 0 {
		s.ingestGroup(ctx, now, group)
	}
}

// ingest is one batch waiting to be committed.
type ingest struct {
	recs    []*socred.Record
	fresh   []*socred.Record // the records not stored before
	results []RecordResult
	err     error
	done    chan struct{}
}

// maxGroup bounds how many records one group commit takes.
const maxGroup = 50_000

// ingestGroup commits batches together: one key lookup, one plan, one
// transaction. A batch that conflicts fails alone; if the plan or commit of
// the group fails, each batch is tried alone so that the failure lands on
// the batch that caused it. The caller holds s.wmu.
func (s *Service) ingestGroup(ctx context.Context, now time.Time, group []*ingest) {
	defer func() {
		p := recover()
		for _, req := range group {
			if p != nil && req.err == nil {
				req.err = fmt.Errorf("ingest: %v", p)
			}
			close(req.done)
		}
		if p != nil {
			panic(p)
		}
	}()
	for rest := group; len(rest) > 0; {
		n, size := 0, 0
		for n < len(rest) && (n == 0 || size+len(rest[n].recs) <= maxGroup) {
			size += len(rest[n].recs)
			n++
		}
		s.ingestSome(ctx, now, rest[:n])
		rest = rest[n:]
	}
}

func (s *Service) ingestSome(ctx context.Context, now time.Time, group []*ingest) {
	existing, err := s.existing(ctx, group)
	if err != nil {
		for _, req := range group {
			req.err = err
		}
		return
	}
	var live []*ingest
	for _, req := range group {
		if req.err = s.resolve(req, existing); req.err == nil {
			live = append(live, req)
		}
	}
	if len(live) == 0 {
		return
	}
	if err := s.commitIngest(ctx, now, live); err != nil {
		if len(live) == 1 {
			live[0].err = err
			return
		}
		for _, req := range live {
			req.err = s.commitIngest(ctx, now, []*ingest{req})
		}
	}
}

// existing looks up the stored records with the group's keys.
func (s *Service) existing(ctx context.Context, group []*ingest) (map[[2]string]*socred.Record, error) {
	byReporter := map[string][]string{}
	for _, req := range group {
		for _, r := range req.recs {
			byReporter[r.Reporter] = append(byReporter[r.Reporter], r.Key)
		}
	}
	existing := map[[2]string]*socred.Record{}
	for reporter, keys := range byReporter {
		found, err := s.store.RecordsByKey(ctx, reporter, keys)
		if err != nil {
			return nil, err
		}
		for k, r := range found {
			existing[[2]string{reporter, k}] = r
		}
	}
	return existing, nil
}

// resolve sorts a batch's records into duplicates and fresh ones, which get
// their ids; a key used before for a different record is a conflict.
// Fresh records join existing, so a later batch of the group sees them.
func (s *Service) resolve(req *ingest, existing map[[2]string]*socred.Record) error {
	req.results = make([]RecordResult, len(req.recs))
	req.fresh = make([]*socred.Record, 0, len(req.recs))
	for i, r := range req.recs {
		if old, ok := existing[[2]string{r.Reporter, r.Key}]; ok {
			if !samePayload(old, r) {
				return &socred.Error{Code: socred.ECONFLICT, Field: "records[" + strconv.Itoa(i) + "].key",
					Message: "records[" + strconv.Itoa(i) + "].key: key " + strconv.Quote(r.Key) + " was already used for a different record (" + old.ID + ")"}
			}
			req.results[i] = RecordResult{Key: r.Key, ID: old.ID, Status: "duplicate", Derived: []DerivedResult{}}
			continue
		}
		req.fresh = append(req.fresh, r)
		req.results[i] = RecordResult{Key: r.Key, Status: "accepted", Derived: []DerivedResult{}}
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

// commitIngest plans and commits the fresh records of the batches as one
// change and fills in their derived records.
func (s *Service) commitIngest(ctx context.Context, now time.Time, reqs []*ingest) error {
	var recs []*socred.Record
	for _, req := range reqs {
		recs = append(recs, req.fresh...)
	}
	if len(recs) == 0 {
		return nil
	}
	plan, err := s.commit(ctx, now, engine.Change{Records: recs})
	if err != nil {
		return err
	}
	if len(plan.Derived) == 0 {
		return nil
	}
	byID := make(map[string]*RecordResult)
	for _, req := range reqs {
		for i := range req.results {
			byID[req.results[i].ID] = &req.results[i]
		}
	}
	for _, d := range plan.Derived {
		if res := byID[d.DerivedFrom.Record]; res != nil {
			res.Derived = append(res.Derived, DerivedResult{ID: d.ID, Subject: d.Subject, Points: d.Points})
		}
	}
	return nil
}

// validateRecord checks one record against the pack and the caller and
// returns it ready to store (no id yet).
func (s *Service) validateRecord(c *socred.Caller, in *socred.RecordInput, prefix string, now time.Time) (*socred.Record, error) {
	if err := in.Validate(prefix, now); err != nil {
		return nil, err
	}
	sc := s.pack.Scheme(in.Scheme)
	if sc == nil {
		return nil, socred.FieldErrorf(prefix+".scheme", "unknown scheme %q", in.Scheme)
	}
	rule := sc.Rule(in.Rule)
	if rule == nil {
		return nil, socred.FieldErrorf(prefix+".rule", "unknown rule %q in scheme %q", in.Rule, in.Scheme)
	}
	reporter := sc.Authority
	if c.Role() == socred.RoleAuthority {
		reporter = c.Token.Authority
		if sc.Authority != reporter {
			return nil, &socred.Error{Code: socred.EFORBIDDEN, Field: prefix + ".scheme",
				Message: prefix + ".scheme: scheme " + strconv.Quote(sc.ID) + " is run by " + strconv.Quote(sc.Authority) + "; this token reports for " + strconv.Quote(reporter)}
		}
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
	}
	return nil
}

func samePayload(a, b *socred.Record) bool {
	return a.Subject == b.Subject && a.Scheme == b.Scheme && a.Rule == b.Rule &&
		a.OccurredAt.Equal(b.OccurredAt) && a.Evidence == b.Evidence
}
