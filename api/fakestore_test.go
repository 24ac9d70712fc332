package api_test

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred"
)

// fakeStore is a socred.Store in maps, for the API's tests only. It keeps
// what the service writes and answers reads from it; it is not durable and
// does no validation of its own.
type fakeStore struct {
	mu           sync.Mutex
	nextID       int64
	subjects     map[string]*socred.Subject
	relations    []socred.Relation
	records      []*socred.Record
	designations []*socred.Designation
	listings     map[string]map[string]socred.Listing // list → subject → own listing
	past         map[string][]socred.Listing          // subject → own listings ended, newest first
	checks       []socred.CheckEntry
	accesses     []socred.Access
	tokens       map[string]*socred.Token // by string(hash)
	settled      time.Time
	changes      []socred.Change // the feed; the last one's Seq is the position
	notices      []socred.Notice
	contacts     map[string]string
	purges       []socred.Purge
	appeals      []*socred.Appeal
	repairs      []*socred.Repair
	pending      map[int64]bool
	audit        fakeAudit
	sessions     map[string]socred.Session // by string(hash); fakesession_test.go

	// Failures to inject, and what the last list read asked for.
	pingErr   error
	checksErr error
	lastPage  socred.Page
}

var _ socred.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		nextID:   1,
		subjects: map[string]*socred.Subject{},
		listings: map[string]map[string]socred.Listing{},
		past:     map[string][]socred.Listing{},
		tokens:   map[string]*socred.Token{},
	}
}

func (s *fakeStore) Commit(ctx context.Context, w *socred.Write) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Like every store, refuse a write whose record reuses a reporter's
	// key, before changing anything.
	keys := map[[2]string]bool{}
	for _, r := range s.records {
		if r.Key != "" {
			keys[[2]string{r.Reporter, r.Key}] = true
		}
	}
	for _, r := range w.Records {
		k := [2]string{r.Reporter, r.Key}
		if r.Key != "" && keys[k] {
			return socred.Errorf(socred.ECONFLICT, "key %q of %q is stored", r.Key, r.Reporter)
		}
		keys[k] = true
	}
	if w.Seq > 0 {
		if w.Seq != int64(len(s.changes))+1 {
			return socred.ErrStale
		}
		body, err := socred.ChangeBody(w)
		if err != nil {
			return err
		}
		c, err := socred.DecodeChange(w.Seq, w.Now, body)
		if err != nil {
			return err
		}
		s.changes = append(s.changes, c)
	}
	if err := s.appendAudit(w); err != nil {
		return err
	}
	s.purges = append(s.purges, w.Purges...)
	for _, e := range w.Erase {
		s.purges = slices.DeleteFunc(s.purges, func(p socred.Purge) bool {
			return !e.At.IsZero() && p.At.Equal(e.At) && strconv.FormatInt(p.Record, 10) == e.Record.ID
		})
		for _, r := range s.records {
			if r.ID == e.Record.ID {
				r.Evidence = ""
				if r.PurgedAt == nil {
					at := w.Now
					r.PurgedAt = &at
				}
				if r.PurgeLogIndex == nil && e.Receipt != nil {
					r.PurgeLogIndex = new(*e.Receipt)
				}
			}
		}
	}
	for _, a := range w.Appeals {
		c := *a
		if i := slices.IndexFunc(s.appeals, func(x *socred.Appeal) bool { return x.ID == a.ID }); i >= 0 {
			s.appeals[i] = &c
		} else {
			s.appeals = append(s.appeals, &c)
		}
	}
	for _, rp := range w.Repairs {
		c := *rp
		if i := slices.IndexFunc(s.repairs, func(x *socred.Repair) bool { return x.ID == rp.ID }); i >= 0 {
			s.repairs[i] = &c
		} else {
			s.repairs = append(s.repairs, &c)
		}
	}
	for _, ref := range w.Overturn {
		for _, r := range s.records {
			if r.ID == strconv.FormatInt(ref.ID, 10) && !r.Overturned {
				at := w.Now
				r.Overturned, r.OverturnedAt = true, &at
			}
		}
	}
	for _, ref := range w.Suspend {
		for _, r := range s.records {
			if r.ID == strconv.FormatInt(ref.ID, 10) {
				r.Suspended = true
			}
		}
	}
	for _, ref := range w.Reinstate {
		for _, r := range s.records {
			if r.ID == strconv.FormatInt(ref.ID, 10) {
				r.Suspended = false
			}
		}
	}
	for _, c := range w.Contacts {
		if s.contacts == nil {
			s.contacts = map[string]string{}
		}
		if c.Email == "" {
			delete(s.contacts, c.Subject)
		} else {
			s.contacts[c.Subject] = c.Email
		}
	}
	for _, n := range w.Notices {
		n.ID = int64(len(s.notices) + 1)
		s.notices = append(s.notices, n)
		if w.Deliver {
			if s.pending == nil {
				s.pending = map[int64]bool{}
			}
			s.pending[n.ID] = true
		}
	}
	for _, sub := range w.Subjects {
		c := *sub
		c.Groups = slices.Clone(sub.Groups)
		s.subjects[sub.ID] = &c
	}
	for _, r := range w.Relate {
		if !slices.Contains(s.relations, r) {
			s.relations = append(s.relations, r)
		}
	}
	for _, r := range w.Unrelate {
		s.relations = slices.DeleteFunc(s.relations, func(x socred.Relation) bool { return x == r })
	}
	for _, r := range w.Records {
		c := *r
		s.records = append(s.records, &c)
	}
	for _, d := range w.Designations {
		c := *d
		if i := slices.IndexFunc(s.designations, func(x *socred.Designation) bool { return x.ID == d.ID }); i >= 0 {
			s.designations[i] = &c
		} else {
			s.designations = append(s.designations, &c)
		}
	}
	for _, d := range w.PurgeDesignations {
		for _, x := range s.designations {
			if x.ID == d.ID && x.PurgedAt == nil {
				x.Reason, x.Case, x.EndReason, x.PurgedAt = "", "", "", d.PurgedAt
			}
		}
	}
	for _, ev := range w.Events {
		if ev.Listing == nil || ev.Listing.Via != nil {
			continue
		}
		l := *ev.Listing
		switch ev.Kind {
		case socred.EventListed:
			if s.listings[l.List] == nil {
				s.listings[l.List] = map[string]socred.Listing{}
			}
			s.listings[l.List][ev.Subject] = l
		case socred.EventDelisted:
			if held, ok := s.listings[l.List][ev.Subject]; ok {
				at := ev.At
				held.Until, held.Kind, held.EndReason = &at, "", l.EndReason
				s.past[ev.Subject] = append([]socred.Listing{held}, s.past[ev.Subject]...)
			}
			delete(s.listings[l.List], ev.Subject)
		}
	}
	s.checks = append(s.checks, w.Checks...)
	s.accesses = append(s.accesses, w.Accesses...)
	for _, t := range w.Tokens {
		c := *t
		s.tokens[string(t.Hash)] = &c
	}
	for _, r := range w.Revoke {
		for _, t := range s.tokens {
			if t.ID == r.ID && t.RevokedAt == nil {
				at := r.At
				t.RevokedAt = &at
			}
		}
	}
	if w.Settled != nil {
		s.settled = *w.Settled
	}
	return nil
}

func (s *fakeStore) ReserveIDs(ctx context.Context, n int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.nextID
	s.nextID += int64(n)
	return first, nil
}

func (s *fakeStore) Subject(ctx context.Context, id string) (*socred.Subject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subjects[id]
	if !ok {
		return nil, socred.Errorf(socred.ENOTFOUND, "subject %q not found", id)
	}
	c := *sub
	return &c, nil
}

func (s *fakeStore) Relations(ctx context.Context, subject string) ([]socred.Relation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []socred.Relation
	for _, r := range s.relations {
		if r.From == subject || r.To == subject {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

func (s *fakeStore) RecordsByKey(ctx context.Context, reporter string, keys []string) (map[string]*socred.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := map[string]*socred.Record{}
	for _, r := range s.records {
		if r.Reporter == reporter && r.DerivedFrom == nil && slices.Contains(keys, r.Key) {
			c := *r
			found[r.Key] = &c
		}
	}
	return found, nil
}

func (s *fakeStore) SubjectRecords(ctx context.Context, subject string) ([]*socred.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*socred.Record
	for _, r := range s.records {
		if r.Subject == subject {
			c := *r
			rs = append(rs, &c)
		}
	}
	return rs, nil
}

func (s *fakeStore) Designation(ctx context.Context, id string) (*socred.Designation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.designations {
		if d.ID == id {
			c := *d
			return &c, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "designation %q not found", id)
}

func (s *fakeStore) SubjectDesignations(ctx context.Context, subject string) ([]*socred.Designation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds []*socred.Designation
	for _, d := range s.designations {
		if d.Subject == subject {
			c := *d
			ds = append(ds, &c)
		}
	}
	return ds, nil
}

func (s *fakeStore) ActiveDesignation(ctx context.Context, list, subject string, now time.Time) (*socred.Designation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.designations {
		if d.List == list && d.Subject == subject && d.Active(now) {
			c := *d
			return &c, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "subject %q is not on list %q", subject, list)
}

func (s *fakeStore) DesignationLists(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.designations {
		if d.PurgedAt == nil && !slices.Contains(out, d.List) {
			out = append(out, d.List)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *fakeStore) EndedDesignations(ctx context.Context, list string, endedBy time.Time, limit int) ([]*socred.Designation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*socred.Designation
	for _, d := range s.designations {
		end := d.Until
		if d.EndedAt != nil {
			end = *d.EndedAt
		}
		appealed := slices.ContainsFunc(s.appeals, func(a *socred.Appeal) bool {
			return a.Designation == d.ID && (a.Status == socred.AppealOpen || a.DecidedAt != nil && a.DecidedAt.After(endedBy))
		})
		if d.List == list && d.PurgedAt == nil && !end.After(endedBy) && !appealed && len(out) < limit {
			c := *d
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *fakeStore) ListEntries(ctx context.Context, list string, page socred.Page) ([]socred.Listing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = page
	var ls []socred.Listing
	for _, l := range s.listings[list] {
		l.Kind = "" // like the SQLite store, which keeps no kind: it is the list's
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b socred.Listing) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Subject, b.Subject))
	})
	return paged(ls, page), nil
}

func (s *fakeStore) PastListings(ctx context.Context, subject string, page socred.Page) ([]socred.Listing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return paged(slices.Clone(s.past[subject]), page), nil
}

func (s *fakeStore) Checks(ctx context.Context, subject string, page socred.Page) ([]socred.CheckEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checksErr != nil {
		return nil, s.checksErr
	}
	var cs []socred.CheckEntry
	for _, c := range slices.Backward(s.checks) {
		if c.Subject == subject {
			cs = append(cs, c)
		}
	}
	return paged(cs, page), nil
}

func (s *fakeStore) Accesses(ctx context.Context, subject string, page socred.Page) ([]socred.Access, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []socred.Access
	for _, a := range slices.Backward(s.accesses) {
		if a.Subject == subject {
			as = append(as, a)
		}
	}
	return paged(as, page), nil
}

func (s *fakeStore) Register(ctx context.Context, q socred.RegisterQuery) ([]socred.RegisterEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = q.Page
	var es []socred.RegisterEntry
	for list, grace := range q.Lists {
		for subject, l := range s.listings[list] {
			name := s.subjects[subject].Name
			if grace.AddTo(l.Since).After(q.Now) {
				continue
			}
			if q.Q != "" && !strings.Contains(strings.ToLower(name+" "+subject), strings.ToLower(q.Q)) {
				continue
			}
			es = append(es, socred.RegisterEntry{
				List: list, Name: name, Subject: subject, Since: l.Since, Until: l.Until,
				Authority: l.Authority, LegalBasis: l.LegalBasis, Reason: l.Reason, Case: l.Case,
			})
		}
	}
	slices.SortFunc(es, func(a, b socred.RegisterEntry) int {
		return cmp.Or(cmp.Compare(a.List, b.List), a.Since.Compare(b.Since), cmp.Compare(a.Subject, b.Subject))
	})
	return paged(es, q.Page), nil
}

func (s *fakeStore) TokenByHash(ctx context.Context, hash []byte) (*socred.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok {
		return nil, socred.Errorf(socred.ENOTFOUND, "token not found")
	}
	c := *t
	return &c, nil
}

func (s *fakeStore) Token(ctx context.Context, id string) (*socred.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.ID == id {
			c := *t
			return &c, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "token not found")
}

func (s *fakeStore) Load(ctx context.Context, l socred.Loader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subjects {
		if err := l.Subject(sub); err != nil {
			return err
		}
	}
	for _, r := range s.relations {
		if err := l.Relation(r); err != nil {
			return err
		}
	}
	for _, r := range s.records {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		cr := &socred.CountingRecord{ID: id, Subject: r.Subject, Scheme: r.Scheme, Rule: r.Rule, Points: r.Points,
			OccurredAt: r.OccurredAt.UnixNano(), CountsUntil: r.CountsUntil.UnixNano(), Overturned: r.Overturned}
		if err := l.Record(cr); err != nil {
			return err
		}
	}
	for _, d := range s.designations {
		if d.EndedAt == nil {
			if err := l.Designation(d); err != nil {
				return err
			}
		}
	}
	for list, m := range s.listings {
		for subject, ls := range m {
			if err := l.Listing(subject, list, ls.Since); err != nil {
				return err
			}
		}
	}
	return l.Settled(s.settled, int64(len(s.changes)))
}

func (s *fakeStore) Changes(ctx context.Context, after int64, limit int) ([]socred.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after >= int64(len(s.changes)) {
		return nil, nil
	}
	return slices.Clone(s.changes[after:min(int(after)+limit, len(s.changes))]), nil
}

func (s *fakeStore) RecordsByRef(ctx context.Context, refs []socred.RecordRef) ([]*socred.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*socred.Record
	for _, r := range s.records {
		id, _ := strconv.ParseInt(r.ID, 10, 64)
		if slices.ContainsFunc(refs, func(x socred.RecordRef) bool { return x.ID == id }) {
			c := *r
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *socred.Record) int {
		x, _ := strconv.ParseInt(a.ID, 10, 64)
		y, _ := strconv.ParseInt(b.ID, 10, 64)
		return cmp.Compare(x, y)
	})
	return out, nil
}

func (s *fakeStore) Notices(ctx context.Context, subject string, page socred.Page) ([]socred.Notice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []socred.Notice{}
	for i := len(s.notices) - 1; i >= 0; i-- {
		if s.notices[i].Subject == subject {
			out = append(out, s.notices[i])
		}
	}
	return paged(out, page), nil
}

func (s *fakeStore) PendingNotices(ctx context.Context, limit int) ([]socred.Notice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []socred.Notice
	for _, n := range s.notices {
		if s.pending[n.ID] && len(out) < limit {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s *fakeStore) MarkDelivered(ctx context.Context, ids []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.pending, id)
	}
	return nil
}

func (s *fakeStore) Appeal(ctx context.Context, id string) (*socred.Appeal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.appeals {
		if a.ID == id {
			c := *a
			return &c, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "appeal %q not found", id)
}

func (s *fakeStore) SubjectAppeals(ctx context.Context, subject string) ([]*socred.Appeal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*socred.Appeal{}
	for _, a := range s.appeals {
		if a.Subject == subject {
			c := *a
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *fakeStore) Repair(ctx context.Context, id string) (*socred.Repair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.repairs {
		if r.ID == id {
			c := *r
			return &c, nil
		}
	}
	return nil, socred.Errorf(socred.ENOTFOUND, "repair %q not found", id)
}

func (s *fakeStore) SubjectRepairs(ctx context.Context, subject string) ([]*socred.Repair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*socred.Repair{}
	for _, r := range s.repairs {
		if r.Subject == subject {
			c := *r
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *fakeStore) OverdueAppeals(ctx context.Context, now time.Time, limit int) ([]*socred.Appeal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*socred.Appeal{}
	for _, a := range s.appeals {
		if a.Status == socred.AppealOpen && a.SuspendedAt == nil && !a.ReviewDue.After(now) && len(out) < limit {
			c := *a
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *fakeStore) DerivedRecords(ctx context.Context, ref socred.RecordRef) ([]*socred.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*socred.Record{}
	for _, r := range s.records {
		if r.DerivedFrom != nil && r.DerivedFrom.Record == strconv.FormatInt(ref.ID, 10) {
			c := *r
			out = append(out, &c)
		}
	}
	return out, nil
}

// ExpiredLogs finds nothing: the fake numbers no checks or accesses, and
// the API's tests do not reach the end of their retention.
func (s *fakeStore) ExpiredLogs(ctx context.Context, before time.Time, limit int) (socred.Expiry, error) {
	return socred.Expiry{}, nil
}

func (s *fakeStore) DuePurges(ctx context.Context, now time.Time, limit int) ([]socred.Erasure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	erased := func(r *socred.Record, at time.Time) socred.Erasure {
		c := *r
		c.Evidence = ""
		if c.PurgedAt == nil {
			c.PurgedAt = &now
		}
		return socred.Erasure{Record: &c, At: at}
	}
	var out []socred.Erasure
	for _, p := range s.purges {
		if len(out) < limit && !p.At.After(now) {
			if i := slices.IndexFunc(s.records, func(r *socred.Record) bool { return r.ID == strconv.FormatInt(p.Record, 10) }); i >= 0 {
				out = append(out, erased(s.records[i], p.At))
			}
		}
	}
	for _, r := range s.records {
		if len(out) < limit && r.PurgedAt != nil && r.PurgeLogIndex == nil {
			out = append(out, erased(r, time.Time{}))
		}
	}
	return out, nil
}

func (s *fakeStore) Contact(ctx context.Context, subject string) (socred.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.contacts[subject]
	if !ok {
		return socred.Contact{Subject: subject}, socred.Errorf(socred.ENOTFOUND, "no contact")
	}
	return socred.Contact{Subject: subject, Email: e}, nil
}

func (s *fakeStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pingErr
}

func (s *fakeStore) Close() error { return nil }

// set runs fn under the store's lock, to inject failures safely.
func (s *fakeStore) set(fn func(s *fakeStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// recordCount returns how many records the store holds.
func (s *fakeStore) recordCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func paged[T any](xs []T, p socred.Page) []T {
	if p.Offset >= len(xs) {
		return nil
	}
	xs = xs[p.Offset:]
	if p.Limit > 0 && p.Limit < len(xs) {
		xs = xs[:p.Limit]
	}
	return xs
}
