package service

import (
	"context"
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

	s.wmu.Lock()
	defer s.wmu.Unlock()
	byReporter := map[string][]string{}
	for _, r := range recs {
		byReporter[r.Reporter] = append(byReporter[r.Reporter], r.Key)
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
	results := make([]RecordResult, len(recs))
	fresh := make([]*socred.Record, 0, len(recs))
	for i, r := range recs {
		if old, ok := existing[[2]string{r.Reporter, r.Key}]; ok {
			if !samePayload(old, r) {
				return nil, &socred.Error{Code: socred.ECONFLICT, Field: "records[" + strconv.Itoa(i) + "].key",
					Message: "records[" + strconv.Itoa(i) + "].key: key " + strconv.Quote(r.Key) + " was already used for a different record (" + old.ID + ")"}
			}
			results[i] = RecordResult{Key: r.Key, ID: old.ID, Status: "duplicate", Derived: []DerivedResult{}}
			continue
		}
		r.ID = strconv.FormatInt(s.ids.next(), 10)
		fresh = append(fresh, r)
		results[i] = RecordResult{Key: r.Key, ID: r.ID, Status: "accepted", Derived: []DerivedResult{}}
	}
	if len(fresh) == 0 {
		return results, nil
	}
	plan, err := s.commit(ctx, now, engine.Change{Records: fresh})
	if err != nil {
		return nil, err
	}
	if len(plan.Derived) > 0 {
		byID := make(map[string]*RecordResult, len(results))
		for i := range results {
			byID[results[i].ID] = &results[i]
		}
		for _, d := range plan.Derived {
			if res := byID[d.DerivedFrom.Record]; res != nil {
				res.Derived = append(res.Derived, DerivedResult{ID: d.ID, Subject: d.Subject, Points: d.Points})
			}
		}
	}
	return results, nil
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
