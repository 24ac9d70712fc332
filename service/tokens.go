package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/socred/socred"
)

// TokenInput is the admin's request for a new token.
type TokenInput struct {
	Role      socred.Role `json:"role"`
	Authority string      `json:"authority"`
	Subject   string      `json:"subject"`
	Actions   []string    `json:"actions"`
	Name      string      `json:"name"`
}

// NewToken is a created token: the secret is shown once and only its hash
// is stored.
type NewToken struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// CreateToken creates a token. Only the admin may.
func (s *Service) CreateToken(ctx context.Context, c *socred.Caller, in TokenInput) (NewToken, error) {
	if !c.Is(socred.RoleAdmin) {
		return NewToken{}, forbidden("")
	}
	if !in.Role.Valid() {
		return NewToken{}, socred.FieldErrorf("role", "must be one of admin, authority, provider, reviewer, subject, auditor")
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 100 || !socred.ValidText(in.Name, false) {
		return NewToken{}, socred.FieldErrorf("name", "is required, at most 100 bytes of "+socred.TextRule+": it is how the token appears in subjects' files")
	}
	t := &socred.Token{ID: newID("tok"), Role: in.Role, Name: in.Name}
	switch in.Role {
	case socred.RoleAuthority:
		if s.pack.Authority(in.Authority) == nil {
			return NewToken{}, socred.FieldErrorf("authority", "unknown authority %q", in.Authority)
		}
		t.Authority = in.Authority
	case socred.RoleReviewer:
		// A reviewer may work for an authority, whose entries they then
		// may not review.
		if in.Authority != "" && s.pack.Authority(in.Authority) == nil {
			return NewToken{}, socred.FieldErrorf("authority", "unknown authority %q", in.Authority)
		}
		t.Authority = in.Authority
	case socred.RoleSubject:
		s.mu.RLock()
		ok := s.world.Entry(in.Subject) != nil
		s.mu.RUnlock()
		if !ok {
			return NewToken{}, socred.FieldErrorf("subject", "unknown subject %q", in.Subject)
		}
		t.Subject = in.Subject
	case socred.RoleProvider:
		for i, a := range in.Actions {
			if s.pack.Action(a) == nil {
				return NewToken{}, socred.FieldErrorf("actions["+strconv.Itoa(i)+"]", "unknown action %q", a)
			}
		}
		t.Actions = in.Actions
	}
	if in.Role != socred.RoleAuthority && in.Role != socred.RoleReviewer && in.Authority != "" {
		return NewToken{}, socred.FieldErrorf("authority", "only an authority or a reviewer token is bound to an authority")
	}
	if in.Role != socred.RoleSubject && in.Subject != "" {
		return NewToken{}, socred.FieldErrorf("subject", "only a subject token is bound to a subject")
	}
	if in.Role != socred.RoleProvider && len(in.Actions) > 0 {
		return NewToken{}, socred.FieldErrorf("actions", "only a provider token is bound to actions")
	}
	var secret [24]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return NewToken{}, err
	}
	tok := "sct_" + base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(tok))
	t.Hash = h[:]
	t.CreatedAt = s.now()
	if err := s.commitLogged(ctx, &socred.Write{Now: t.CreatedAt, Tokens: []*socred.Token{t}}); err != nil {
		return NewToken{}, err
	}
	return NewToken{ID: t.ID, Token: tok}, nil
}

// RevokeToken revokes a token: from then on it authenticates no one, and
// the web sessions signed in with it end. Only the admin may. Revoking a
// revoked token changes nothing; an unknown id is not_found.
func (s *Service) RevokeToken(ctx context.Context, c *socred.Caller, id string) (*socred.Token, error) {
	if !c.Is(socred.RoleAdmin) {
		return nil, forbidden("")
	}
	t, err := s.store.Token(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.RevokedAt == nil {
		now := s.now()
		if err := s.commitLogged(ctx, &socred.Write{Now: now, Revoke: []socred.TokenRevocation{{ID: id, At: now}}}); err != nil {
			return nil, err
		}
		t.RevokedAt = &now
	}
	s.tokenGen.Add(1)
	s.tokens.Delete(string(t.Hash))
	return t, nil
}
