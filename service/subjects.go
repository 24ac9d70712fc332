package service

import (
	"context"
	"slices"

	"github.com/socred/socred"
	"github.com/socred/socred/engine"
)

// PutSubject creates or replaces a subject and reports whether it was new.
func (s *Service) PutSubject(ctx context.Context, c *socred.Caller, sub *socred.Subject) (bool, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return false, forbidden("")
	}
	if sub.Groups == nil {
		sub.Groups = []string{}
	}
	if err := sub.Validate(); err != nil {
		return false, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	old := s.world.Entry(sub.ID)
	s.mu.RUnlock()
	if old != nil && sameSubject(old.Subject, sub) {
		return false, nil
	}
	if _, err := s.commit(ctx, s.now(), engine.Change{Subjects: []*socred.Subject{sub}}); err != nil {
		return false, err
	}
	return old == nil, nil
}

func sameSubject(a, b *socred.Subject) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Name == b.Name && a.Region == b.Region && slices.Equal(a.Groups, b.Groups)
}

// Subject returns a subject. Authorities, reviewers and the admin may read
// any subject; a subject only itself.
func (s *Service) Subject(ctx context.Context, c *socred.Caller, id string) (*socred.Subject, error) {
	if err := mayRead(c, id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	ent := s.world.Entry(id)
	s.mu.RUnlock()
	if ent == nil {
		return nil, socred.Errorf(socred.ENOTFOUND, "subject %q not found", id)
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
	return s.relation(ctx, c, r, true)
}

// Unrelate removes a relation; a relation that does not exist is not_found.
func (s *Service) Unrelate(ctx context.Context, c *socred.Caller, r socred.Relation) error {
	_, err := s.relation(ctx, c, r, false)
	return err
}

func (s *Service) relation(ctx context.Context, c *socred.Caller, r socred.Relation, add bool) (bool, error) {
	if !c.Is(socred.RoleAuthority, socred.RoleAdmin) {
		return false, forbidden("")
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	if s.pack.Relation(r.Type) == nil {
		return false, socred.FieldErrorf("type", "unknown relation type %q", r.Type)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	from, to := s.world.Entry(r.From), s.world.Entry(r.To)
	s.mu.RUnlock()
	switch {
	case from == nil:
		return false, socred.FieldErrorf("from", "unknown subject %q", r.From)
	case to == nil:
		return false, socred.FieldErrorf("to", "unknown subject %q", r.To)
	}
	exists := from.Related(r.Type, r.To)
	if add == exists {
		if !add {
			return false, socred.Errorf(socred.ENOTFOUND, "relation (%s, %s, %s) not found", r.From, r.Type, r.To)
		}
		return false, nil
	}
	ch := engine.Change{Relate: []socred.Relation{r}}
	if !add {
		ch = engine.Change{Unrelate: []socred.Relation{r}}
	}
	if _, err := s.commit(ctx, s.now(), ch); err != nil {
		return false, err
	}
	return true, nil
}
