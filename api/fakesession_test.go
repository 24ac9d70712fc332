package api_test

import (
	"bytes"
	"context"
	"time"

	"github.com/socred/socred"
)

// PutSession stores a copy of sess; a hash stored before is a conflict,
// as in the real stores.
func (s *fakeStore) PutSession(ctx context.Context, sess *socred.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[string]socred.Session{}
	}
	if _, ok := s.sessions[string(sess.Hash)]; ok {
		return socred.Errorf(socred.ECONFLICT, "a session with this hash is stored")
	}
	c := *sess
	c.Hash, c.TokenHash = bytes.Clone(sess.Hash), bytes.Clone(sess.TokenHash)
	s.sessions[string(c.Hash)] = c
	return nil
}

// Session returns a copy of the session, unless it has expired by now.
func (s *fakeStore) Session(ctx context.Context, hash []byte, now time.Time) (*socred.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[string(hash)]
	if !ok || !sess.ExpiresAt.After(now) {
		return nil, socred.Errorf(socred.ENOTFOUND, "session not found")
	}
	sess.Hash, sess.TokenHash = bytes.Clone(sess.Hash), bytes.Clone(sess.TokenHash)
	return &sess, nil
}

// DeleteSession removes the session, if stored, and every session expired
// by now.
func (s *fakeStore) DeleteSession(ctx context.Context, hash []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, string(hash))
	for k, sess := range s.sessions {
		if !sess.ExpiresAt.After(now) {
			delete(s.sessions, k)
		}
	}
	return nil
}
