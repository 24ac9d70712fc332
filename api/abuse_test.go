package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred/service"
)

// Ten failed authentications from one address within a minute refuse
// every request from it, even with a good token, with 429 and a log entry
// that names the address and no token; other addresses are not affected,
// and the address is served again once the minute has passed.
func TestFailedAuthenticationRateLimit(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	f := newFixtureAt(t, newFakeStore(), clock.Now)
	from := func(addr, token string) *response {
		req := newRequest("GET", "/v1/schemes", "")
		req.RemoteAddr = addr
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return &response{t: t, Code: rec.Code, Body: rec.Body.Bytes(), Header: rec.Header()}
	}
	good := f.tokens[asAuditor]
	for i := range service.MaxAuthFailures {
		if r := from("198.51.100.7:4000", "sct_guess-"+strings.Repeat("x", i)); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, r.Code)
		}
	}
	r := from("198.51.100.7:4001", good)
	if code, _, _ := r.apiError(); r.Code != http.StatusTooManyRequests || code != "too_many_requests" {
		t.Fatalf("after %d failures, a good token: %d %s, want 429", service.MaxAuthFailures, r.Code, r.Body)
	}
	if r := from("203.0.113.9:4000", good); r.Code != http.StatusOK {
		t.Errorf("another address: %d, want 200", r.Code)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "authentication failures") || !strings.Contains(logs, "198.51.100.7") {
		t.Errorf("no log entry naming the refused address:\n%s", logs)
	}
	if strings.Contains(logs, "sct_guess") {
		t.Error("the log shows a token tried")
	}
	clock.Set(clock.Now().Add(service.AuthFailureWindow))
	if r := from("198.51.100.7:4002", good); r.Code != http.StatusOK {
		t.Errorf("a minute later: %d, want 200", r.Code)
	}
}
