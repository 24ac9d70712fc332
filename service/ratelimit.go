package service

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/socred/socred"
)

// A client whose authentications failed MaxAuthFailures times within
// AuthFailureWindow is refused (too_many_requests, HTTP 429) until the
// window has passed, even with a good token: guessing tokens is then
// slower than it is worth.
const (
	MaxAuthFailures   = 10
	AuthFailureWindow = time.Minute
)

// authLimiter counts failed authentications by client.
type authLimiter struct {
	mu sync.Mutex
	m  map[string]*authFailures
}

type authFailures struct {
	n     int
	since time.Time // the window's start
}

// maxClients bounds the clients remembered; past it, windows that ended
// are forgotten.
const maxClients = 100_000

// blocked reports whether the client is refused at now.
func (l *authLimiter) blocked(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[client]
	return f != nil && f.n >= MaxAuthFailures && now.Sub(f.since) < AuthFailureWindow
}

// failed counts a failure and reports whether it made the client blocked.
func (l *authLimiter) failed(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*authFailures{}
	}
	f := l.m[client]
	if f == nil || now.Sub(f.since) >= AuthFailureWindow {
		if len(l.m) >= maxClients {
			for c, old := range l.m {
				if now.Sub(old.since) >= AuthFailureWindow {
					delete(l.m, c)
				}
			}
		}
		f = &authFailures{since: now}
		l.m[client] = f
	}
	f.n++
	return f.n == MaxAuthFailures
}

// ClientAddr is a request's network address without its port, and an IPv6
// address's /64 (what one subscriber is given): the client failed
// authentications are counted by.
func ClientAddr(r *http.Request) string {
	h := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h = host
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return h
}

// AuthenticateFrom is Authenticate for a request from client (its network
// address): it refuses a client that failed too often, and counts and
// logs the failures, never the tokens tried.
func (s *Service) AuthenticateFrom(ctx context.Context, token, client string) (*socred.Caller, error) {
	now := s.now()
	if s.authFails.blocked(client, now) {
		return nil, socred.Errorf(socred.ETOOMANY, "too many failed authentications from this address; try again in a minute")
	}
	c, err := s.Authenticate(ctx, token)
	if socred.ErrorCode(err) == socred.EUNAUTHORIZED {
		if s.authFails.failed(client, now) {
			s.log.Warn("authentication failures: client refused for a while", "client", client, "failures", MaxAuthFailures, "window", AuthFailureWindow)
		}
	}
	return c, err
}
