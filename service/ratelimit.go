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
// AuthFailureWindow is logged (once a window, with its address, never a
// token), for an operator to look into. It is not refused: an unknown
// token is answered 401 and a good one served, as the API promises — a
// token holds 192 random bits, so guessing gets nowhere, while refusing an
// address would shut out every good client behind the same proxy or NAT.
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

// failed counts a failure and reports whether it made MaxAuthFailures in
// the client's window.
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
// address): it counts the client's failures and logs a client that fails
// often, never the tokens tried.
func (s *Service) AuthenticateFrom(ctx context.Context, token, client string) (*socred.Caller, error) {
	c, err := s.Authenticate(ctx, token)
	if socred.ErrorCode(err) == socred.EUNAUTHORIZED {
		if s.authFails.failed(client, s.now()) {
			s.log.Warn("authentication failures from one address", "client", client, "failures", MaxAuthFailures, "window", AuthFailureWindow)
		}
	}
	return c, err
}
