package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/socred/socred"
)

// SessionTTL is how long a web session lasts after sign-in.
const SessionTTL = 8 * time.Hour

// StartSession signs a browser in with a token: it returns the secret for
// the session's cookie (shown once; the store keeps its hash), the session
// and its caller. Every sign-in makes a new session.
func (s *Service) StartSession(ctx context.Context, token, client string) (string, *socred.Session, *socred.Caller, error) {
	if token == "" {
		return "", nil, nil, socred.FieldErrorf("token", "is required")
	}
	c, err := s.AuthenticateFrom(ctx, token, client)
	if err != nil {
		return "", nil, nil, err
	}
	secret, csrf := randomSecret(), randomSecret()
	h, th := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(token))
	now := s.now()
	sess := &socred.Session{Hash: h[:], TokenHash: th[:], CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.PutSession(ctx, sess); err != nil {
		return "", nil, nil, err
	}
	// Sessions that ran out go now and then: at every sign-in and
	// sign-out.
	if err := s.store.DeleteSession(ctx, nil, now); err != nil {
		s.log.Warn("removing expired sessions", "err", err)
	}
	return secret, sess, c, nil
}

// SessionCaller returns the session whose cookie holds secret and the
// caller it signed in; an unknown or expired session is unauthorized.
func (s *Service) SessionCaller(ctx context.Context, secret string) (*socred.Session, *socred.Caller, error) {
	if secret == "" {
		return nil, nil, socred.Errorf(socred.EUNAUTHORIZED, "not signed in")
	}
	h := sha256.Sum256([]byte(secret))
	sess, err := s.store.Session(ctx, h[:], s.now())
	if isNotFound(err) {
		return nil, nil, socred.Errorf(socred.EUNAUTHORIZED, "the session ended; sign in again")
	}
	if err != nil {
		return nil, nil, err
	}
	var th [32]byte
	copy(th[:], sess.TokenHash)
	c, err := s.callerByHash(ctx, th)
	if err != nil {
		return nil, nil, err
	}
	return sess, c, nil
}

// EndSession signs a browser out: its session ends on the server, so the
// cookie is worthless even if kept.
func (s *Service) EndSession(ctx context.Context, secret string) error {
	h := sha256.Sum256([]byte(secret))
	return s.store.DeleteSession(ctx, h[:], s.now())
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
