package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// DesignationInput is an authority's request to put a subject on a list.
type DesignationInput struct {
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
	Case    string `json:"case"`
	Term    string `json:"term"`
}

// designatedList returns the designated list the caller may designate on.
// MayDesignate checks that the caller designates on the list: the list's
// authority or the admin, on a designated list. The API asks it before it
// reads a request's body, so that a token without the right is refused
// before its input is judged.
func (s *Service) MayDesignate(c *socred.Caller, list string) error {
	_, err := s.designatedList(c, list)
	return err
}

func (s *Service) designatedList(c *socred.Caller, id string) (*socred.List, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	l := s.pack.List(id)
	if l == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "list %q not found", id)
	}
	if c.Role() == socred.RoleAuthority && c.Token.Authority != l.Authority {
		return nil, forbidden("list %q is run by %q; this token acts for %q", l.ID, l.Authority, c.Token.Authority)
	}
	if !l.Designated {
		return nil, socred.Errorf(socred.EINVALID, "list %q is automatic: its entries follow its expression, not designations", l.ID)
	}
	return l, nil
}

// Designate puts a subject on a designated list for a term (the list's
// term by default, never beyond its max_term). A subject already on the
// list is a conflict (its entry is extended with ExtendDesignation); a
// subject taken off the list may be put on it again.
func (s *Service) Designate(ctx context.Context, c *socred.Caller, list string, in DesignationInput) (socred.Listing, error) {
	lst, err := s.designatedList(c, list)
	if err != nil {
		return socred.Listing{}, err
	}
	if in.Subject == "" {
		return socred.Listing{}, socred.FieldErrorf("subject", "is required")
	}
	if err := checkDesignationText(in.Reason, in.Case, "listed"); err != nil {
		return socred.Listing{}, err
	}
	term := lst.Term
	if in.Term != "" {
		if term, err = designationTerm(lst, in.Term); err != nil {
			return socred.Listing{}, err
		}
	}
	var d *socred.Designation
	err = s.locked(ctx, func() error {
		s.mu.RLock()
		exists := s.world.Entry(in.Subject) != nil
		s.mu.RUnlock()
		if !exists {
			return socred.FieldErrorf("subject", "unknown subject %q", in.Subject)
		}
		now := s.now()
		old, err := s.store.ActiveDesignation(ctx, lst.ID, in.Subject, now)
		switch {
		case err == nil:
			return socred.Errorf(socred.ECONFLICT, "subject %q is already on list %q (since %s, until %s, designation %s); to extend the entry, PATCH /v1/lists/%s/entries/%s with a term that ends later, counted from its start",
				in.Subject, lst.ID, old.Since.Format("2006-01-02"), old.Until.Format("2006-01-02"), old.ID, lst.ID, in.Subject)
		case !isNotFound(err):
			return err
		}
		// An entry suspended while its appeal's review is overdue is on
		// the list still: the decision restores or ends it.
		appeals, err := s.store.SubjectAppeals(ctx, in.Subject)
		if err != nil {
			return err
		}
		for _, a := range appeals {
			if a.Status == socred.AppealOpen && a.SuspendedAt != nil && a.List == lst.ID && a.Designation != "" {
				return socred.Errorf(socred.ECONFLICT, "subject %q's entry on list %q (designation %s) is suspended while the overdue review of appeal %s is pending; its decision restores or ends the entry",
					in.Subject, lst.ID, a.Designation, a.ID)
			}
		}
		if err := withinMaxTerm(lst, term, now); err != nil {
			return err
		}
		d = &socred.Designation{
			ID:        newID("dsg"),
			List:      lst.ID,
			Subject:   in.Subject,
			Authority: lst.Authority,
			Reason:    in.Reason,
			Case:      in.Case,
			Since:     now,
			Until:     term.AddTo(now),
		}
		if c.Role() == socred.RoleAuthority {
			d.Authority = c.Token.Authority
		}
		_, err = s.commit(ctx, now, engine.Change{Designations: []*socred.Designation{d}})
		return err
	})
	if err != nil {
		return socred.Listing{}, err
	}
	return designationListing(lst, d), nil
}

// ExtensionInput is an authority's request to extend a subject's entry on
// a designated list.
type ExtensionInput struct {
	Term   string `json:"term"`
	Reason string `json:"reason"`
	Case   string `json:"case"`
}

// ExtendDesignation extends a subject's entry on a designated list: its
// new term, counted from the entry's start, must end later than the entry
// does and stay within the list's max_term. The entry keeps its
// designation and start; its reason notes the extension, and the subject is
// told its term changed.
func (s *Service) ExtendDesignation(ctx context.Context, c *socred.Caller, list, subject string, in ExtensionInput) (socred.Listing, error) {
	lst, err := s.designatedList(c, list)
	if err != nil {
		return socred.Listing{}, err
	}
	if strings.TrimSpace(in.Term) == "" {
		return socred.Listing{}, socred.FieldErrorf("term", "is required: the entry's whole term, counted from its start")
	}
	if err := checkDesignationText(in.Reason, in.Case, "extended"); err != nil {
		return socred.Listing{}, err
	}
	term, err := designationTerm(lst, in.Term)
	if err != nil {
		return socred.Listing{}, err
	}
	var d *socred.Designation
	err = s.locked(ctx, func() error {
		now := s.now()
		old, err := s.store.ActiveDesignation(ctx, lst.ID, subject, now)
		if err != nil {
			return err
		}
		until := term.AddTo(old.Since) // from its start: the whole term never exceeds max_term
		if err := withinMaxTerm(lst, term, old.Since); err != nil {
			return err
		}
		if !until.After(old.Until) {
			return socred.FieldErrorf("term", "%s from the entry's start (%s) ends %s, not after the entry's end (%s)",
				term, old.Since.Format("2006-01-02"), until.Format("2006-01-02"), old.Until.Format("2006-01-02"))
		}
		ext := *old
		ext.Until = until
		if in.Case != "" {
			ext.Case = in.Case
		}
		ext.Reason = old.Reason + "; extended: " + in.Reason
		d = &ext
		_, err = s.commit(ctx, now, engine.Change{Designations: []*socred.Designation{d}})
		return err
	})
	if err != nil {
		return socred.Listing{}, err
	}
	return designationListing(lst, d), nil
}

// checkDesignationText checks a designation's reason (required) and case
// number.
func checkDesignationText(reason, caseNo, what string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return socred.FieldErrorf("reason", "is required: say why the subject is %s", what)
	case len(reason) > 1000 || !socred.ValidText(reason, true):
		return socred.FieldErrorf("reason", "must be at most 1000 bytes of "+socred.TextRule)
	case len(caseNo) > 200 || !socred.ValidText(caseNo, false):
		return socred.FieldErrorf("case", "must be at most 200 bytes of "+socred.TextRule)
	}
	return nil
}

// designationTerm parses a designation's term, which must be longer than
// zero (and, from the entry's start, within the list's max_term:
// withinMaxTerm).
func designationTerm(lst *socred.List, text string) (socred.Duration, error) {
	term, err := socred.ParseDuration(text)
	if err != nil {
		return term, socred.FieldErrorf("term", "%v", err)
	}
	if term.N == 0 {
		return term, socred.FieldErrorf("term", "must be longer than zero")
	}
	// Against max_term from the entry's start (withinMaxTerm), once known:
	// months and years are as long as the calendar makes them there.
	return term, nil
}

// withinMaxTerm checks a term from since against the list's max_term from
// the same moment: months and years are as long as the calendar makes
// them, so a term of 1y may run past a max_term of 365d (across a 29
// February) though it fits elsewhere.
func withinMaxTerm(lst *socred.List, term socred.Duration, since time.Time) error {
	if lst.MaxTerm.IsZero() {
		return nil
	}
	if end, limit := term.AddTo(since), lst.MaxTerm.AddTo(since); end.After(limit) {
		return socred.FieldErrorf("term", "%s from the entry's start (%s) ends %s, after the list's max_term of %s from then (%s)",
			term, since.Format("2006-01-02"), end.Format("2006-01-02"), lst.MaxTerm, limit.Format("2006-01-02"))
	}
	return nil
}

// Undesignate takes a subject off a designated list before its term ends.
func (s *Service) Undesignate(ctx context.Context, c *socred.Caller, list, subject, reason string) (socred.Listing, error) {
	l, err := s.designatedList(c, list)
	if err != nil {
		return socred.Listing{}, err
	}
	if err := checkDesignationText(reason, "", "removed"); err != nil {
		return socred.Listing{}, err
	}
	var ended socred.Designation
	err = s.locked(ctx, func() error {
		now := s.now()
		d, err := s.store.ActiveDesignation(ctx, l.ID, subject, now)
		if err != nil {
			return err
		}
		ended = *d
		ended.EndedAt, ended.EndReason = &now, reason
		_, err = s.commit(ctx, now, engine.Change{Designations: []*socred.Designation{&ended}})
		return err
	})
	if err != nil {
		return socred.Listing{}, err
	}
	return designationListing(l, &ended), nil
}

func designationListing(l *socred.List, d *socred.Designation) socred.Listing {
	until, ended := d.Until, ""
	if d.EndedAt != nil && d.EndedAt.Before(until) {
		until, ended = *d.EndedAt, d.EndReason
	}
	return socred.Listing{
		List: l.ID, Kind: l.Kind, Subject: d.Subject, Since: d.Since, Until: &until,
		Reason: d.Reason, Case: d.Case, Authority: d.Authority, LegalBasis: l.LegalBasis, Designation: d.ID,
		EndReason: ended,
	}
}

// ListEntries returns a list's current entries: to the admin, auditors and
// authorities (any of them, as API.md says: only designating is the list's
// own authority's).
func (s *Service) ListEntries(ctx context.Context, c *socred.Caller, list string, page socred.Page) ([]socred.Listing, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin, socred.RoleAuditor) {
		return nil, forbidden("")
	}
	l := s.pack.List(list)
	if l == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "list %q not found", list)
	}
	ls, err := s.store.ListEntries(ctx, l.ID, page)
	for i := range ls {
		ls[i].Kind = l.Kind // the list's, which a store need not keep
	}
	return ls, err
}

// Register returns the public register: entries of published lists whose
// grace period has passed, while they last. Anyone may read it.
func (s *Service) Register(ctx context.Context, list, q string, page socred.Page) ([]socred.RegisterEntry, error) {
	switch {
	case len(q) > 100:
		return nil, socred.FieldErrorf("q", "at most 100 bytes")
	case !socred.ValidText(q, false):
		// A NUL ends the text a LIKE pattern sees: it matched everyone.
		return nil, socred.FieldErrorf("q", "must be "+socred.TextRule)
	}
	published := map[string]socred.Duration{}
	for _, l := range s.pack.Lists {
		if l.Publish && (list == "" || l.ID == list) {
			published[l.ID] = l.PublishAfter
		}
	}
	switch {
	case list != "" && s.pack.List(list) == nil:
		return nil, socred.FieldErrorf("list", "unknown list %q", list)
	case list != "" && len(published) == 0:
		return []socred.RegisterEntry{}, nil // a list not published has no public entries
	}
	return s.store.Register(ctx, socred.RegisterQuery{List: list, Q: q, Now: s.now(), Lists: published, Page: page})
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random id with a prefix, e.g. "dsg-k3j5...".
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + idEncoding.EncodeToString(b[:])
}
