package service

import (
	"context"
	"sync"
	"time"

	"github.com/socred/socred"
)

// Console is what the operators' console shows a caller: the population
// by grade in each scheme, entries on each list coming and going, recent
// records, the review queue and the lists the caller may designate on.
// An authority sees its own schemes and lists; reviewers and the admin
// see all, and the queue.
type Console struct {
	Schemes   []SchemeStats
	Lists     []ListStats
	Records   []*socred.Record
	Appeals   []*socred.Appeal
	Repairs   []*socred.Repair
	Designate []*socred.List
}

// SchemeStats is a scheme's population by grade, in the order of its
// bands (best first).
type SchemeStats struct {
	Scheme, Name string
	Grades       []GradeCount
}

// GradeCount is how many subjects hold a grade.
type GradeCount struct {
	Grade    string
	Subjects int
}

// ListStats is a list's entries coming and going, day by day.
type ListStats struct {
	List, Name string
	Current    int // entries not ended, as the engine holds them
	Days       []socred.ListingDay
}

// ConsoleDays is how far back the console's charts of lists go.
const ConsoleDays = 90

// gradeCache keeps the population by grade for a while: counting it reads
// every subject.
type gradeCache struct {
	mu     sync.Mutex
	at     time.Time
	counts map[string]map[string]int
}

const gradeCacheFor = 30 * time.Second

// Console returns the console's content for the caller.
func (s *Service) Console(ctx context.Context, c *socred.Caller) (*Console, error) {
	if !c.Is(socred.RoleAdmin, socred.RoleAuthority, socred.RoleReviewer) {
		return nil, forbidden("the console is for authorities, reviewers and the admin")
	}
	own := func(authority string) bool {
		return !c.Is(socred.RoleAuthority) || c.Token.Authority == authority
	}
	now := s.now()
	counts := s.gradeCounts(now)
	out := &Console{}
	for _, sc := range s.pack.Schemes {
		if !own(sc.Authority) {
			continue
		}
		st := SchemeStats{Scheme: sc.ID, Name: sc.Name}
		seen := map[string]bool{}
		for _, b := range sc.Grades {
			st.Grades = append(st.Grades, GradeCount{Grade: b.Grade, Subjects: counts[sc.ID][b.Grade]})
			seen[b.Grade] = true
		}
		for g, n := range counts[sc.ID] {
			if !seen[g] {
				st.Grades = append(st.Grades, GradeCount{Grade: g, Subjects: n})
			}
		}
		out.Schemes = append(out.Schemes, st)
	}
	since := now.AddDate(0, 0, -ConsoleDays)
	for _, l := range s.pack.Lists {
		if !own(l.Authority) {
			continue
		}
		days, err := s.store.ListingFlow(ctx, l.ID, since, now)
		if err != nil {
			return nil, err
		}
		out.Lists = append(out.Lists, ListStats{List: l.ID, Name: l.Name, Days: days})
		if l.Designated && c.Is(socred.RoleAdmin, socred.RoleAuthority) {
			out.Designate = append(out.Designate, l)
		}
	}
	if c.Is(socred.RoleAdmin, socred.RoleAuthority) {
		recs, err := s.store.RecentRecords(ctx, socred.Page{Limit: 200})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if sc := s.pack.Scheme(r.Scheme); sc != nil && own(sc.Authority) && len(out.Records) < 20 {
				out.Records = append(out.Records, r)
			}
		}
	}
	if c.Is(socred.RoleAdmin, socred.RoleReviewer) {
		var err error
		if out.Appeals, err = s.store.OpenAppeals(ctx, socred.Page{Limit: 100}); err != nil {
			return nil, err
		}
		if out.Repairs, err = s.store.PendingRepairs(ctx, socred.Page{Limit: 100}); err != nil {
			return nil, err
		}
		// A reviewer bound to an authority sees its entries too; deciding
		// them is refused (DecideAppeal, DecideRepair), with the reason.
	}
	return out, nil
}

func (s *Service) gradeCounts(now time.Time) map[string]map[string]int {
	s.grades.mu.Lock()
	defer s.grades.mu.Unlock()
	if s.grades.counts == nil || now.Sub(s.grades.at) > gradeCacheFor || now.Before(s.grades.at) {
		s.mu.RLock()
		s.grades.counts = s.world.GradeCounts(now)
		s.mu.RUnlock()
		s.grades.at = now
	}
	return s.grades.counts
}
