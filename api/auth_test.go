package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// callers are every kind of caller the authorization table covers.
var callers = []string{asAdmin, asAuthority, asProvider, asReviewer, asSubject, asAuditor, asAnonymous, asUnknown}

// authCase is one route of the authorization table: a request that the
// service would accept from a caller with the right role (so that an
// allowed caller gets neither 401 nor 403), and the callers allowed.
type authCase struct {
	path    string // the route's path with values filled in
	body    any
	allowed []string // nil: public, every caller allowed
}

// authTable is the API's authorization table, written out independently of
// the route table it checks.
var authTable = map[string]authCase{
	"POST /v1/tokens": {"/v1/tokens", map[string]any{"role": "reviewer", "name": "another reviewer"},
		[]string{asAdmin}},
	"DELETE /v1/tokens/{id}": {"/v1/tokens/tok-unknown", nil, []string{asAdmin}},
	"PUT /v1/subjects/{id}": {"/v1/subjects/zhang", map[string]any{"kind": "person", "name": "Zhang Wei", "region": "rongcheng"},
		[]string{asAdmin, asAuthority}},
	"GET /v1/subjects/{id}": {"/v1/subjects/zhang", nil,
		[]string{asAdmin, asAuthority, asReviewer, asSubject}},
	"GET /v1/subjects/{id}/file": {"/v1/subjects/zhang/file", nil,
		[]string{asAdmin, asAuthority, asReviewer, asSubject}},
	"PUT /v1/subjects/{id}/contact": {"/v1/subjects/zhang/contact", map[string]any{"email": "zhang@example.cn"},
		[]string{asAdmin, asAuthority, asSubject}},
	"GET /v1/subjects/{id}/export": {"/v1/subjects/zhang/export", nil,
		[]string{asAdmin, asSubject}},
	"POST /v1/appeals": {"/v1/appeals", map[string]any{"record": "1", "statement": "not mine"},
		[]string{asAdmin, asSubject}},
	"GET /v1/appeals":      {"/v1/appeals", nil, []string{asAdmin, asReviewer}},
	"GET /v1/appeals/{id}": {"/v1/appeals/apl-x", nil, []string{asAdmin, asReviewer, asSubject}},
	"GET /v1/repairs":      {"/v1/repairs", nil, []string{asAdmin, asReviewer}},
	"GET /v1/repairs/{id}": {"/v1/repairs/rep-x", nil, []string{asAdmin, asReviewer, asSubject}},
	"POST /v1/appeals/{id}/decision": {"/v1/appeals/apl-x/decision", map[string]any{"decision": "upheld", "reasons": "the record stands"},
		[]string{asAdmin, asReviewer}},
	"POST /v1/repairs": {"/v1/repairs", map[string]any{"list": "defaulters", "route": "obligation-performed", "evidence": []string{"receipt 1"}},
		[]string{asAdmin, asSubject}},
	"POST /v1/repairs/{id}/decision": {"/v1/repairs/rep-x/decision", map[string]any{"decision": "rejected", "reasons": "no receipt"},
		[]string{asAdmin, asReviewer}},
	"PUT /v1/relations": {"/v1/relations", map[string]any{"from": "li", "type": "guarantor-of", "to": "zhang"},
		[]string{asAdmin, asAuthority}},
	"DELETE /v1/relations": {"/v1/relations", map[string]any{"from": "li", "type": "guarantor-of", "to": "zhang"},
		[]string{asAdmin, asAuthority}},
	"POST /v1/records": {"/v1/records", records(record("auth-1", "zhang", "blood")),
		[]string{asAdmin, asAuthority}},
	"POST /v1/checks": {"/v1/checks", map[string]any{"subject": "zhang", "action": "ride-train"},
		[]string{asAdmin, asProvider}},
	"POST /v1/lists/{list}/entries": {"/v1/lists/defaulters/entries", map[string]any{"subject": "acme-co", "reason": "unpaid judgment"},
		[]string{asAdmin, asAuthority}},
	"GET /v1/lists/{list}/entries": {"/v1/lists/defaulters/entries", nil,
		[]string{asAdmin, asAuthority, asAuditor}},
	"PATCH /v1/lists/{list}/entries/{subject}": {"/v1/lists/defaulters/entries/acme-co", map[string]any{"reason": "still unpaid", "term": "3y"},
		[]string{asAdmin, asAuthority}},
	"DELETE /v1/lists/{list}/entries/{subject}": {"/v1/lists/defaulters/entries/acme-co", map[string]any{"reason": "paid"},
		[]string{asAdmin, asAuthority}},
	"GET /v1/register": {"/v1/register", nil, nil},
	"GET /v1/schemes": {"/v1/schemes", nil,
		[]string{asAdmin, asAuthority, asProvider, asReviewer, asSubject, asAuditor}},
	"GET /healthz":                {"/healthz", nil, nil},
	"GET /v1/audit/checkpoint":    {"/v1/audit/checkpoint", nil, nil},
	"GET /v1/audit/key":           {"/v1/audit/key", nil, nil},
	"GET /v1/audit/proof/{index}": {"/v1/audit/proof/0", nil, nil},
	"GET /v1/audit/consistency":   {"/v1/audit/consistency?from=1&to=1", nil, nil},
	"GET /metrics": {"/metrics", nil,
		[]string{asAdmin, asAuditor}},
}

// TestAuthorization calls every route of the route table as every kind of
// caller. A route missing from the table above fails, and so does a table
// entry for a route that does not exist.
func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	for _, rt := range f.api.Routes() {
		key := rt.Method + " " + rt.Path
		seen[key] = true
		tc, ok := authTable[key]
		if !ok {
			t.Errorf("route %s is missing from the authorization table", key)
			continue
		}
		for _, as := range callers {
			t.Run(strings.ReplaceAll(key, "/", "_")+"/"+as, func(t *testing.T) {
				res := f.on(t).do(rt.Method, tc.path, as, tc.body)
				switch want := expect(tc, as); want {
				case 0:
					if res.Code == http.StatusUnauthorized || res.Code == http.StatusForbidden || res.Code >= 500 {
						t.Errorf("got %d, want an answer past the role check: %s", res.Code, res.Body)
					}
				default:
					if res.Code != want {
						t.Errorf("got %d, want %d: %s", res.Code, want, res.Body)
					}
					code, msg, _ := res.apiError()
					if wantCode := map[int]string{401: "unauthorized", 403: "forbidden"}[want]; code != wantCode {
						t.Errorf("error code %q, want %q", code, wantCode)
					}
					// The route table refuses the role, not the service behind it.
					if want == http.StatusForbidden && !strings.Contains(msg, "may not call this endpoint") {
						t.Errorf("403 %q does not come from the route table's role check", msg)
					}
					if want == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				}
			})
		}
	}
	for key := range authTable {
		if !seen[key] {
			t.Errorf("the authorization table has %s, which is not a route", key)
		}
	}
}

// expect returns the status a caller must get from a route: 401, 403, or 0
// for "past the role check" (any answer but 401, 403 and 5xx).
func expect(tc authCase, as string) int {
	switch {
	case tc.allowed == nil || slices.Contains(tc.allowed, as):
		return 0
	case as == asAnonymous || as == asUnknown:
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// TestRoleCheckComesFirst shows that the role check happens before the
// body is read: a caller without the right is refused for its role, not
// for an oversized, mistyped or malformed body.
func TestRoleCheckComesFirst(t *testing.T) {
	f := newFixture(t)
	huge := strings.Repeat("x", 20<<20)
	tests := []struct {
		name, as, contentType, body string
		want                        int
	}{
		{"anonymous, huge body", asAnonymous, "application/json", huge, 401},
		{"unknown token, malformed", asUnknown, "application/json", "{", 401},
		{"provider, huge body", asProvider, "application/json", huge, 403},
		{"provider, wrong type", asProvider, "text/plain", "hello", 403},
		{"subject, malformed", asSubject, "application/json", `{"records": [`, 403},
		{"authority, malformed", asAuthority, "application/json", `{"records": [`, 400},
		{"authority, huge body", asAuthority, "application/json", huge, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest("POST", "/v1/records", tt.body)
			req.Header.Set("Content-Type", tt.contentType)
			res := f.on(t).send(req, tt.as)
			if res.Code != tt.want {
				t.Errorf("got %d, want %d: %.200s", res.Code, tt.want, res.Body)
			}
		})
	}
}

// TestBearerHeader checks how the Authorization header is read.
func TestBearerHeader(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, header string
		want         int
	}{
		{"bearer", "Bearer " + adminToken, 200},
		{"lower-case scheme", "bearer " + adminToken, 200},
		{"basic", "Basic " + adminToken, 401},
		{"no scheme", adminToken, 401},
		{"empty token", "Bearer ", 401},
		{"wrong token", "Bearer " + adminToken + "x", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest("GET", "/v1/schemes", "")
			req.Header.Set("Authorization", tt.header)
			res := f.on(t).send(req, asAnonymous)
			if res.Code != tt.want {
				t.Errorf("got %d, want %d: %s", res.Code, tt.want, res.Body)
			}
		})
	}
}
