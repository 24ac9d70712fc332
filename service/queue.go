package service

import (
	"context"

	"github.com/socred/socred"
)

// OpenAppeals returns the appeals not yet decided, oldest filed first: the
// reviewers' queue. Reviewers and the admin only.
func (s *Service) OpenAppeals(ctx context.Context, c *socred.Caller, page socred.Page) ([]*socred.Appeal, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	return s.store.OpenAppeals(ctx, page)
}

// PendingRepairs returns the credit repair applications not yet decided,
// oldest filed first. Reviewers and the admin only.
func (s *Service) PendingRepairs(ctx context.Context, c *socred.Caller, page socred.Page) ([]*socred.Repair, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin) {
		return nil, forbidden("")
	}
	return s.store.PendingRepairs(ctx, page)
}

// Appeal returns an appeal: to reviewers, the admin, and the subject who
// filed it.
func (s *Service) Appeal(ctx context.Context, c *socred.Caller, id string) (*socred.Appeal, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin, socred.RoleSubject) {
		return nil, forbidden("")
	}
	a, err := s.store.Appeal(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Role() == socred.RoleSubject && a.Subject != c.Token.Subject {
		return nil, forbidden("a subject token may read only its own subject's appeals")
	}
	return a, nil
}

// Repair returns a credit repair application: to reviewers, the admin, and
// the subject who applied.
func (s *Service) Repair(ctx context.Context, c *socred.Caller, id string) (*socred.Repair, error) {
	if !c.Is(socred.RoleReviewer, socred.RoleAdmin, socred.RoleSubject) {
		return nil, forbidden("")
	}
	r, err := s.store.Repair(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Role() == socred.RoleSubject && r.Subject != c.Token.Subject {
		return nil, forbidden("a subject token may read only its own subject's repair applications")
	}
	return r, nil
}
