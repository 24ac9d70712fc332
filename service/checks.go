package service

import (
	"context"
	"slices"

	"github.com/socred/socred"
)

// CheckInput is a provider's question: may the subject do the action?
type CheckInput struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	Purpose string `json:"purpose"`
}

// Check answers a provider from memory and logs the check, durably, for the
// subject's file before answering.
func (s *Service) Check(ctx context.Context, c *socred.Caller, in CheckInput) (socred.Decision, error) {
	if !c.Is(socred.RoleProvider, socred.RoleAdmin) {
		return socred.Decision{}, forbidden("")
	}
	switch {
	case in.Subject == "":
		return socred.Decision{}, socred.FieldErrorf("subject", "is required")
	case in.Action == "":
		return socred.Decision{}, socred.FieldErrorf("action", "is required")
	case len(in.Purpose) > 200 || !socred.ValidText(in.Purpose, false):
		return socred.Decision{}, socred.FieldErrorf("purpose", "must be at most 200 bytes of "+socred.TextRule)
	}
	if acts := c.Token.Actions; len(acts) > 0 && !slices.Contains(acts, in.Action) {
		return socred.Decision{}, forbidden("this provider token may not check %q", in.Action)
	}
	// Behind servers sharing the store, every change acknowledged by any
	// of them before this check is taken first.
	if err := s.barrier.wait(ctx, s); err != nil {
		return socred.Decision{}, err
	}
	now := s.now()
	s.mu.RLock()
	d, err := s.world.Decide(in.Subject, in.Action, now)
	s.mu.RUnlock()
	if err != nil {
		return socred.Decision{}, err
	}
	entry := &socred.CheckEntry{Subject: in.Subject, At: now, By: c.Name(), TokenID: c.Token.ID, Action: in.Action, Purpose: in.Purpose, Allowed: d.Allowed}
	if err := s.journal.add(ctx, entry, nil); err != nil {
		return socred.Decision{}, err
	}
	d.LogIndex = entry.LogIndex
	return d, nil
}
