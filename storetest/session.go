package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/socred/socred"
)

// testSessions: a stored session is found until it expires; deleting it,
// or one already gone, succeeds; a delete also removes every session
// expired by its time, and no other.
func testSessions(t *testing.T, s socred.Store) {
	session := func(name string, ttl time.Duration) *socred.Session {
		return &socred.Session{Hash: []byte("hash of " + name), TokenHash: []byte("token of " + name), CSRF: "csrf of " + name,
			CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
	}
	a, b, c := session("a", time.Hour), session("b", 2*time.Hour), session("c", 3*time.Hour)
	for _, sess := range []*socred.Session{a, b, c} {
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatalf("put %s: %v", sess.Hash, err)
		}
	}
	check := func(at time.Time, want *socred.Session) {
		t.Helper()
		got, err := s.Session(ctx, want.Hash, at)
		if err != nil {
			t.Errorf("session %s at %v: %v", want.Hash, at, err)
			return
		}
		if !bytes.Equal(got.Hash, want.Hash) || !bytes.Equal(got.TokenHash, want.TokenHash) || got.CSRF != want.CSRF ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("session %s: got %+v, want %+v", want.Hash, got, want)
		}
	}
	gone := func(at time.Time, hash []byte, why string) {
		t.Helper()
		if got, err := s.Session(ctx, hash, at); socred.ErrorCode(err) != socred.ENOTFOUND {
			t.Errorf("%s session %s at %v: got %+v, %v, want not_found", why, hash, at, got, err)
		}
	}

	check(t0, a)
	check(t0.Add(time.Hour-time.Microsecond), a)
	gone(t0.Add(time.Hour), a.Hash, "expired") // ExpiresAt <= now
	gone(t0.Add(2*time.Hour), a.Hash, "expired")
	gone(t0, []byte("no such hash"), "unknown")

	// Ending b leaves a, which has not expired by then, and c.
	if err := s.DeleteSession(ctx, b.Hash, t0.Add(time.Minute)); err != nil {
		t.Fatalf("delete b: %v", err)
	}
	gone(t0, b.Hash, "deleted")
	check(t0, a)
	check(t0, c)
	if err := s.DeleteSession(ctx, b.Hash, t0.Add(time.Minute)); err != nil {
		t.Errorf("deleting b again: %v", err)
	}
	if err := s.DeleteSession(ctx, []byte("no such hash"), t0.Add(time.Minute)); err != nil {
		t.Errorf("deleting an unknown session: %v", err)
	}

	// Ending an unknown session once a has expired removes a: it is gone
	// even to a reader from before it expired. c stays.
	if err := s.DeleteSession(ctx, []byte("no such hash"), t0.Add(time.Hour)); err != nil {
		t.Fatalf("delete at a's expiry: %v", err)
	}
	gone(t0, a.Hash, "expired and removed")
	check(t0, c)

	// A session put again after its delete is found again.
	if err := s.PutSession(ctx, b); err != nil {
		t.Fatalf("put b again: %v", err)
	}
	check(t0, b)
}
