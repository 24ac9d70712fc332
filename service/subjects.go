package service

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// PutSubject creates or replaces a subject and reports whether it was new.
func (s *Service) PutSubject(ctx context.Context, c *socred.Caller, sub *socred.Subject) (bool, error) {
	created, err := s.PutSubjects(ctx, c, []*socred.Subject{sub})
	if err != nil {
		return false, err
	}
	return created[0], nil
}

// PutSubjects creates or replaces subjects in one transaction and reports,
// for each, whether it was new. A subject that is invalid fails the batch,
// named by its index.
func (s *Service) PutSubjects(ctx context.Context, c *socred.Caller, subs []*socred.Subject) ([]bool, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	// The right to change a subject another registered first, for every
	// subject of the batch: it is forbidden whatever else is wrong with the
	// body (checked again under the lock below).
	for i, sub := range subs {
		if err := s.mayChangeID(c, sub.ID); err != nil {
			if len(subs) == 1 {
				return nil, err
			}
			return nil, prefixErr("subjects["+strconv.Itoa(i)+"]", err)
		}
	}
	seen := make(map[string]bool, len(subs))
	for i, sub := range subs {
		if sub.Groups == nil {
			sub.Groups = []string{}
		}
		if err := sub.Validate(); err != nil {
			if len(subs) == 1 {
				return nil, err
			}
			return nil, prefixErr("subjects["+strconv.Itoa(i)+"]", err)
		}
		if seen[sub.ID] {
			return nil, socred.FieldErrorf("subjects["+strconv.Itoa(i)+"].id", "subject %q appears twice in this batch", sub.ID)
		}
		seen[sub.ID] = true
	}
	created := make([]bool, len(subs))
	err := s.locked(ctx, func() error {
		var changed []*socred.Subject
		s.mu.RLock()
		for i, sub := range subs {
			old := s.world.Entry(sub.ID)
			created[i] = old == nil
			// Who registered a subject is the caller that made it, and
			// stays; only it and the admin change the subject after.
			if old == nil {
				sub.RegisteredBy = registrar(c)
			} else {
				if err := mayChange(c, old.Subject); err != nil {
					s.mu.RUnlock()
					if len(subs) == 1 {
						return err
					}
					return prefixErr("subjects["+strconv.Itoa(i)+"]", err)
				}
				sub.RegisteredBy = old.Subject.RegisteredBy
				if err := s.kindFits(old, sub.Kind); err != nil {
					s.mu.RUnlock()
					if len(subs) == 1 {
						return err
					}
					return prefixErr("subjects["+strconv.Itoa(i)+"]", err)
				}
			}
			if old == nil || !sameSubject(old.Subject, sub) {
				changed = append(changed, sub)
			}
		}
		s.mu.RUnlock()
		if len(changed) == 0 {
			return nil
		}
		_, err := s.commit(ctx, s.now(), engine.Change{Subjects: changed})
		return err
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// prefixErr puts prefix before the field of an invalid-input error.
func prefixErr(prefix string, err error) error {
	var e *socred.Error
	if errors.As(err, &e) && e.Field != "" {
		return &socred.Error{Code: e.Code, Field: prefix + "." + e.Field, Message: prefix + "." + e.Message}
	}
	return err
}

// registrar is who a subject the caller registers is registered by: its
// authority, or "" for the admin.
func registrar(c *socred.Caller) string {
	if c.Role() == socred.RoleAuthority {
		return c.Token.Authority
	}
	return ""
}

// mayChange checks that the caller may change a subject, its relations or
// its contact: the admin, or the authority that registered it. (Records and
// designations are bound to the caller's own schemes and lists; the
// subject's data decides which schemes reach it, so it is its registrar's.)
func mayChange(c *socred.Caller, sub *socred.Subject) error {
	if c.Role() == socred.RoleAdmin || c.Role() == socred.RoleAuthority && c.Token.Authority == sub.RegisteredBy {
		return nil
	}
	by := "the admin"
	if sub.RegisteredBy != "" {
		by = strconv.Quote(sub.RegisteredBy)
	}
	return forbidden("subject %q was registered by %s: only it or the admin may change the subject, its relations or its contact", sub.ID, by)
}

// mayChangeID is mayChange for the subject with the id, if it is known:
// an unknown subject is for the caller's other checks to refuse.
func (s *Service) mayChangeID(c *socred.Caller, id string) error {
	s.mu.RLock()
	ent := s.world.Entry(id)
	s.mu.RUnlock()
	if ent == nil {
		return nil
	}
	return mayChange(c, ent.Subject)
}

func sameSubject(a, b *socred.Subject) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Name == b.Name && a.Region == b.Region && slices.Equal(a.Groups, b.Groups)
}

// Subject returns a subject. Authorities, reviewers and the admin may read
// any subject, and such a read is logged for the subject's file, as a
// read of the file is; a subject reads only itself.
func (s *Service) Subject(ctx context.Context, c *socred.Caller, id string) (*socred.Subject, error) {
	if err := mayRead(c, id); err != nil {
		return nil, err
	}
	if err := s.barrier.wait(ctx, s); err != nil {
		return nil, err
	}
	s.mu.RLock()
	ent := s.world.Entry(id)
	s.mu.RUnlock()
	if ent == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "subject %q not found", id)
	}
	if c.Role() != socred.RoleSubject {
		a := &socred.Access{Subject: id, At: s.now(), By: c.Name(), Role: c.Role(), TokenID: c.Token.ID, Purpose: "subject read"}
		if err := s.journal.add(ctx, nil, a); err != nil {
			return nil, err
		}
	}
	return ent.Subject, nil
}

// mayRead checks that the caller may read the subject's file.
func mayRead(c *socred.Caller, subject string) error {
	switch c.Role() {
	case socred.RoleAdmin, socred.RoleAuthority, socred.RoleReviewer:
		return nil
	case socred.RoleSubject:
		if c.Token.Subject == subject {
			return nil
		}
		return forbidden("a subject token may read only its own file")
	}
	return forbidden("")
}

// Relate adds a relation and reports whether it was new.
func (s *Service) Relate(ctx context.Context, c *socred.Caller, r socred.Relation) (bool, error) {
	n, err := s.relations(ctx, c, []socred.Relation{r}, true)
	return n == 1, err
}

// RelateAll adds relations in one transaction and returns how many were new.
func (s *Service) RelateAll(ctx context.Context, c *socred.Caller, rs []socred.Relation) (int, error) {
	return s.relations(ctx, c, rs, true)
}

// Unrelate removes a relation; removing one that is not there changes
// nothing (the same body twice is answered alike).
func (s *Service) Unrelate(ctx context.Context, c *socred.Caller, r socred.Relation) error {
	_, err := s.relations(ctx, c, []socred.Relation{r}, false)
	return err
}

func (s *Service) relations(ctx context.Context, c *socred.Caller, rs []socred.Relation, add bool) (int, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return 0, forbidden("")
	}
	field := func(i int, err error) error {
		if len(rs) == 1 {
			return err
		}
		return prefixErr("relations["+strconv.Itoa(i)+"]", err)
	}
	// The right first, for every relation of the batch, as under the lock
	// below: one of its subjects must be the caller's to change.
	for i, r := range rs {
		if s.mayChangeID(c, r.From) != nil {
			if err := s.mayChangeID(c, r.To); err != nil {
				return 0, field(i, err)
			}
		}
	}
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return 0, field(i, err)
		}
		if s.pack.Relation(r.Type) == nil {
			return 0, field(i, socred.FieldErrorf("type", "unknown relation type %q", r.Type))
		}
	}
	n := 0
	err := s.locked(ctx, func() error {
		var ch engine.Change
		seen := map[socred.Relation]bool{}
		s.mu.RLock()
		for i, r := range rs {
			from, to := s.world.Entry(r.From), s.world.Entry(r.To)
			switch {
			case from == nil:
				s.mu.RUnlock()
				return field(i, socred.FieldErrorf("from", "unknown subject %q", r.From))
			case to == nil:
				s.mu.RUnlock()
				return field(i, socred.FieldErrorf("to", "unknown subject %q", r.To))
			}
			if add {
				if err := endsFit(s.pack.Relation(r.Type), from.Subject, to.Subject); err != nil {
					s.mu.RUnlock()
					return field(i, err)
				}
			}
			if err := mayChange(c, from.Subject); err != nil && mayChange(c, to.Subject) != nil {
				s.mu.RUnlock()
				return field(i, err)
			}
			// Both are idempotent: a relation made again, or removed when
			// it is not there (a retry whose answer was lost), changes
			// nothing and is answered as the first time.
			exists := from.Related(r.Type, r.To)
			switch {
			case add && !exists && !seen[r]:
				ch.Relate = append(ch.Relate, r)
			case !add && exists && !seen[r]:
				ch.Unrelate = append(ch.Unrelate, r)
			}
			seen[r] = true
		}
		s.mu.RUnlock()
		n = len(ch.Relate) + len(ch.Unrelate)
		if n == 0 {
			return nil
		}
		_, err := s.commit(ctx, s.now(), ch)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SetContact sets (or, with an empty address, removes) where a subject
// receives notices by e-mail: the subject itself, the authority that
// registered it or the admin may.
func (s *Service) SetContact(ctx context.Context, c *socred.Caller, ct socred.Contact) error {
	switch c.Role() {
	case socred.RoleAdmin, socred.RoleAuthority:
	case socred.RoleSubject:
		if c.Token.Subject != ct.Subject {
			return forbidden("a subject token may set only its own contact")
		}
	default:
		return forbidden("")
	}
	s.mu.RLock()
	ent := s.world.Entry(ct.Subject)
	s.mu.RUnlock()
	if ent == nil {
		return socred.Errorf(socred.ENOTFOUND, "subject %q not found", ct.Subject)
	}
	if c.Role() == socred.RoleAuthority {
		if err := mayChange(c, ent.Subject); err != nil {
			return err
		}
	}
	if err := ct.Validate(); err != nil {
		return err
	}
	return s.store.Commit(ctx, &socred.Write{Now: s.now(), Contacts: []socred.Contact{ct}})
}

// endsFit checks a relation's subjects against the kinds its type links
// (a legal representative is a person, of an organisation).
func endsFit(t *socred.RelationType, from, to *socred.Subject) error {
	for _, end := range []struct {
		field string
		want  socred.SubjectKind
		s     *socred.Subject
	}{{"from", t.From, from}, {"to", t.To, to}} {
		if end.want != "" && end.s.Kind != end.want {
			return socred.FieldErrorf(end.field, "%s relates %s to %s; %q is %s", t.ID, article(t.From, "a subject"), article(t.To, "a subject"), end.s.ID, article(end.s.Kind, ""))
		}
	}
	return nil
}

// kindFits checks that a subject may become of kind k: every relation it
// is in still links the kinds its type names. The caller holds mu.
func (s *Service) kindFits(ent *engine.Entry, k socred.SubjectKind) error {
	id := ent.Subject.ID
	if ent.Subject.Kind == k {
		return nil
	}
	for _, r := range ent.Relations() {
		t := s.pack.Relation(r.Type)
		if t == nil {
			continue // a type gone from the pack
		}
		want := t.To
		if r.From == id {
			want = t.From
		}
		if want != "" && want != k {
			return socred.FieldErrorf("kind", "%q cannot become %s: it is in (%s, %s, %s), and %s relates %s to %s",
				id, article(k, ""), r.From, r.Type, r.To, t.ID, article(t.From, "a subject"), article(t.To, "a subject"))
		}
	}
	return nil
}

// article names a kind of subject with its article ("a person", "an
// organisation"), or unset when the kind is not set.
func article(k socred.SubjectKind, unset string) string {
	switch k {
	case socred.Person:
		return "a person"
	case socred.Organisation:
		return "an organisation"
	}
	return unset
}
