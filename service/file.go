package service

import (
	"context"
	"slices"
	"time"

	"github.com/socred/socred"
)

// File is everything socred holds about a subject, as the subject and those
// allowed to read it see it.
type File struct {
	Subject  *socred.Subject  `json:"subject"`
	Scores   []socred.Score   `json:"scores"`
	Records  []FileRecord     `json:"records"`
	Listings []socred.Listing `json:"listings"`
	// PastListings are the subject's own entries that ended, newest first.
	PastListings []socred.Listing    `json:"past_listings"`
	Relations    []socred.Relation   `json:"relations"`
	Checks       []socred.CheckEntry `json:"checks"`
	Accesses     []socred.Access     `json:"accesses"`
	Appeals      []*socred.Appeal    `json:"appeals"`
	Repairs      []*socred.Repair    `json:"repairs"`
	Notices      []socred.Notice     `json:"notices"`
	NextChange   *time.Time          `json:"next_change"`
}

// FileRecord is a record with its standing and the law behind it.
type FileRecord struct {
	*socred.Record
	RuleName   string              `json:"rule_name,omitempty"`
	Counting   bool                `json:"counting"`
	Status     socred.RecordStatus `json:"status"`
	LegalBasis string              `json:"legal_basis"`
}

// fileLimit is how many checks and accesses a file shows.
const fileLimit = 100

// File returns a subject's file. A read by anyone but the subject is logged,
// durably, before the file is returned, with the purpose the reader gives.
func (s *Service) File(ctx context.Context, c *socred.Caller, id, purpose string) (*File, error) {
	return s.file(ctx, c, id, purpose, false)
}

// file is File with, when whole is set, every check, access and notice
// rather than the latest.
func (s *Service) file(ctx context.Context, c *socred.Caller, id, purpose string, whole bool) (*File, error) {
	if err := mayRead(c, id); err != nil {
		return nil, err
	}
	if len(purpose) > 200 || !socred.ValidText(purpose, false) {
		return nil, socred.FieldErrorf("purpose", "at most 200 bytes of "+socred.TextRule)
	}
	if err := s.barrier.wait(ctx, s); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	st, err := s.world.Standing(id, now)
	var rels []socred.Relation
	if ent := s.world.Entry(id); ent != nil {
		rels = ent.Relations()
	}
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if c.Role() != socred.RoleSubject {
		if purpose == "" {
			purpose = "file read"
		}
		a := &socred.Access{Subject: id, At: now, By: c.Name(), Role: c.Role(), TokenID: c.Token.ID, Purpose: purpose}
		if err := s.journal.add(ctx, nil, a); err != nil {
			return nil, err
		}
	}
	recs, err := s.store.SubjectRecords(ctx, id)
	if err != nil {
		return nil, err
	}
	f := &File{
		Subject:   st.Subject,
		Scores:    st.Scores,
		Records:   make([]FileRecord, 0, len(recs)),
		Listings:  st.Listings,
		Relations: rels,
	}
	if f.Listings == nil {
		f.Listings = []socred.Listing{}
	}
	for i := range f.Listings {
		if l := s.pack.List(f.Listings[i].List); l != nil {
			f.Listings[i].Remedy = l.Remedy(f.Listings[i].Via != nil)
		}
	}
	if !st.Next.IsZero() {
		f.NextChange = &st.Next
	}
	if f.Appeals, err = s.store.SubjectAppeals(ctx, id); err != nil {
		return nil, err
	}
	if f.Repairs, err = s.store.SubjectRepairs(ctx, id); err != nil {
		return nil, err
	}
	contested := map[string]bool{}
	for _, a := range f.Appeals {
		if a.Status == socred.AppealOpen && a.Record != "" {
			contested[a.Record] = true
		}
	}
	// A derived record is contested while the record it was derived from
	// is: its fate is that record's appeal's.
	sources := map[string]bool{}
	for _, r := range recs {
		if d := r.DerivedFrom; d != nil && !sources[d.Subject] {
			sources[d.Subject] = true
			appeals, err := s.store.SubjectAppeals(ctx, d.Subject)
			if err != nil {
				return nil, err
			}
			for _, a := range appeals {
				if a.Status == socred.AppealOpen && a.Record != "" {
					contested[d.Subject+"/"+a.Record] = true
				}
			}
		}
	}
	for _, r := range recs {
		r.Contested = contested[r.ID] || r.DerivedFrom != nil && contested[r.DerivedFrom.Subject+"/"+r.DerivedFrom.Record]
		fr := FileRecord{Record: r, Counting: r.Counting(now), Status: r.Status(now)}
		if sc := s.pack.Scheme(r.Scheme); sc != nil {
			if rule := sc.Rule(r.Rule); rule != nil {
				fr.RuleName, fr.LegalBasis = rule.Name, rule.LegalBasis
			}
		}
		f.Records = append(f.Records, fr)
	}
	if f.PastListings, err = latest(ctx, id, whole, s.store.PastListings); err != nil {
		return nil, err
	}
	if f.PastListings == nil {
		f.PastListings = []socred.Listing{}
	}
	for i := range f.PastListings {
		if l := s.pack.List(f.PastListings[i].List); l != nil {
			f.PastListings[i].Kind = l.Kind // the list's, which a store need not keep
		}
	}
	explainSuspensions(f.PastListings, f.Listings)
	if f.Checks, err = latest(ctx, id, whole, s.store.Checks); err != nil {
		return nil, err
	}
	if f.Accesses, err = latest(ctx, id, whole, s.store.Accesses); err != nil {
		return nil, err
	}
	if f.Notices, err = latest(ctx, id, whole, s.store.Notices); err != nil {
		return nil, err
	}
	return f, nil
}

// latest reads a subject's rows, newest first: the latest fileLimit, or
// every one, page by page.
func latest[T any](ctx context.Context, id string, whole bool, read func(context.Context, string, socred.Page) ([]T, error)) ([]T, error) {
	if !whole {
		return read(ctx, id, socred.Page{Limit: fileLimit})
	}
	const page = 1000
	out := []T{}
	for {
		rows, err := read(ctx, id, socred.Page{Limit: page, Offset: len(out)})
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if len(rows) < page {
			return out, nil
		}
	}
}

// explainSuspensions gives an end's reason to the spells of a designated
// entry that ended while the entry went on: an entry suspended while the
// review of its appeal was overdue, then restored by the appeal's decision,
// ended one spell on the list and began another.
func explainSuspensions(past, current []socred.Listing) {
	for i := range past {
		p := &past[i]
		if p.Designation == "" || p.EndReason != "" {
			continue
		}
		same := func(l socred.Listing) bool { return l.Via == nil && l.Designation == p.Designation }
		endedLater := func(l socred.Listing) bool { return same(l) && l.Until != nil && l.Until.After(*p.Until) }
		if slices.ContainsFunc(current, same) || slices.ContainsFunc(past, endedLater) {
			p.EndReason = "suspended while the review of an appeal was overdue; the appeal's decision restored the entry"
		}
	}
}
