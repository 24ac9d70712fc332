package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/api"
	"github.com/socred/socred/service"
)

const adminToken = "admin-secret-for-tests"

// cond is an automatic list's condition written in Go, standing in for
// compiled CEL.
type cond struct {
	src  string
	refs []socred.Ref
	fn   func(f socred.Facts) bool
}

func (c *cond) Eval(f socred.Facts) bool { return c.fn(f) }
func (c *cond) Refs() []socred.Ref       { return c.refs }
func (c *cond) String() string           { return c.src }

// scoreBelow is `score(scheme) < n`.
func scoreBelow(scheme string, n int64) *cond {
	return &cond{
		src:  `score("` + scheme + `") < ` + itoa(n),
		refs: []socred.Ref{{Func: "score", Scheme: scheme}},
		fn: func(f socred.Facts) bool {
			s, ok := f.Score(scheme)
			return ok && s < n
		},
	}
}

// scoreAtLeast is `score(scheme) >= n`.
func scoreAtLeast(scheme string, n int64) *cond {
	return &cond{
		src:  `score("` + scheme + `") >= ` + itoa(n),
		refs: []socred.Ref{{Func: "score", Scheme: scheme}},
		fn: func(f socred.Facts) bool {
			s, ok := f.Score(scheme)
			return ok && s >= n
		},
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// testPack is a small pack: the city runs a scheme, an automatic blacklist,
// a redlist and a published designated list; the railway implements a
// measure.
func testPack() *socred.Pack {
	d := socred.MustParseDuration
	p := &socred.Pack{
		Authorities: []*socred.Authority{{ID: "city", Name: "Rongcheng City"}, {ID: "railway", Name: "China Railway"}},
		Relations:   []*socred.RelationType{{ID: "guarantor-of", Name: "guarantor of"}},
		Actions: []*socred.Action{
			{ID: "ride-train", Name: "ride a high-speed train"},
			{ID: "buy-flight"},
			{ID: "free-bike", Privilege: true},
		},
		Schemes: []*socred.Scheme{{
			ID: "city", Name: "Rongcheng", Authority: "city", LegalBasis: "city art. 1", Baseline: 1000,
			Scope: socred.Scope{Region: "rongcheng"},
			Grades: []socred.Band{
				{Grade: "AAA", Min: 1050, HasMin: true}, {Grade: "A", Min: 960, HasMin: true},
				{Grade: "B", Min: 0, HasMin: true}, {Grade: "D"},
			},
			Rules: []*socred.Rule{
				{ID: "blood", Name: "blood donation", Points: 5, CountsFor: d("2y"), LegalBasis: "annex 1"},
				{ID: "red-light", Name: "ran a red light", Points: -5, CountsFor: d("1y"), LegalBasis: "RTSL art. 90"},
				{ID: "loan-default", Name: "loan default", Points: -50, CountsFor: d("5y"), LegalBasis: "annex 2",
					Joint: []socred.Joint{{Relation: "guarantor-of", Points: -45}}},
			},
		}},
		Lists: []*socred.List{
			{ID: "city-black", Name: "city blacklist", Kind: socred.Black, Authority: "city", LegalBasis: "art. 14",
				When: `score("city") < 960`, Cond: scoreBelow("city", 960)},
			{ID: "city-red", Name: "city redlist", Kind: socred.Red, Authority: "city", LegalBasis: "art. 11",
				When: `score("city") >= 1050`, Cond: scoreAtLeast("city", 1050)},
			{ID: "defaulters", Name: "judgment defaulters", Kind: socred.Black, Authority: "city", LegalBasis: "SPC 2017",
				Designated: true, Term: d("2y"), MaxTerm: d("5y"), Publish: true, Repair: []string{"obligation-performed"}},
		},
		Measures: []*socred.Measure{
			{ID: "black-no-train", List: "city-black", Restricts: []string{"ride-train"}, Authority: "railway", LegalBasis: "art. 15"},
			{ID: "red-bike", List: "city-red", Grants: []string{"free-bike"}, Authority: "city", LegalBasis: "art. 11(3)"},
			{ID: "def-no-fly", List: "defaulters", Restricts: []string{"buy-flight"}, Authority: "city", LegalBasis: "SPC 2015 art. 3"},
		},
		Hash: "0123abcd",
	}
	p.Index()
	return p
}

// fixture is an API over a service over a fake store, seeded with subjects
// zhang, li (zhang is li's guarantor) and acme-co, and a token per role.
type fixture struct {
	t      *testing.T
	store  *fakeStore // nil over another store
	svc    *service.Service
	api    *api.API
	h      http.Handler
	logs   *syncBuffer
	routes *http.ServeMux    // the route table's patterns, to tell routed requests
	tokens map[string]string // by caller name, see newFixture
}

// requestSeq numbers the requests fixtures send, which each get an
// address of their own.
var requestSeq atomic.Int64

// Callers with a token in every fixture.
const (
	asAdmin          = "admin"
	asAuthority      = "authority"      // acts for city
	asOtherAuthority = "authority-rail" // acts for railway
	asProvider       = "provider"       // may check every action
	asTrainProvider  = "provider-train" // may check ride-train only
	asReviewer       = "reviewer"       //
	asSubject        = "subject"        // is zhang
	asOtherSubject   = "subject-li"     // is li
	asAuditor        = "auditor"        //
	asAnonymous      = "anonymous"      // sends no token
	asUnknown        = "unknown"        // sends a token nobody issued
	unknownToken     = "sct_notatokenweissue"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := newFakeStore()
	f := newFixtureOn(t, store)
	f.store = store
	return f
}

// newFixtureOn returns a fixture over a store of any kind; its store field
// is nil.
func newFixtureOn(t *testing.T, store socred.Store) *fixture {
	return newFixtureAt(t, store, nil)
}

// newFixtureAt is newFixtureOn with the service's clock replaced by now
// (when not nil) and its scheduler looking every 10 ms for what fell due,
// so that moving the clock shows over HTTP.
func newFixtureAt(t *testing.T, store socred.Store, now func() time.Time) *fixture {
	t.Helper()
	svc, err := service.New(store, testPack())
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		svc.Now = now
		svc.SchedulerIdle = 10 * time.Millisecond
	}
	svc.AdminToken = adminToken
	logs := &syncBuffer{}
	svc.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := svc.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	a := api.New(svc, api.Config{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	f := &fixture{t: t, svc: svc, api: a, h: a.Handler(), logs: logs,
		tokens: map[string]string{asAdmin: adminToken, asUnknown: unknownToken}, routes: http.NewServeMux()}
	for _, r := range a.Routes() {
		f.routes.Handle(r.Method+" "+r.Path, http.NotFoundHandler())
	}

	token := func(name string, in service.TokenInput) {
		var tok service.NewToken
		f.must(http.StatusCreated, "POST", "/v1/tokens", asAdmin, in).decode(&tok)
		f.tokens[name] = tok.Token
	}
	// The city registers the subjects: they are its to change.
	token(asAuthority, service.TokenInput{Role: socred.RoleAuthority, Authority: "city", Name: "city clerk"})
	for _, s := range []struct{ id, kind, name string }{
		{"zhang", "person", "Zhang Wei"}, {"li", "person", "Li Na"}, {"acme-co", "organisation", "Acme Co."},
	} {
		f.must(http.StatusCreated, "PUT", "/v1/subjects/"+s.id, asAuthority, map[string]any{"kind": s.kind, "name": s.name, "region": "rongcheng"})
	}
	f.must(http.StatusCreated, "PUT", "/v1/relations", asAuthority, map[string]string{"from": "zhang", "type": "guarantor-of", "to": "li"})
	for name, in := range map[string]service.TokenInput{
		asOtherAuthority: {Role: socred.RoleAuthority, Authority: "railway", Name: "railway clerk"},
		asProvider:       {Role: socred.RoleProvider, Name: "any provider"},
		asTrainProvider:  {Role: socred.RoleProvider, Actions: []string{"ride-train"}, Name: "railway booking"},
		asReviewer:       {Role: socred.RoleReviewer, Name: "reviewer 1"},
		asSubject:        {Role: socred.RoleSubject, Subject: "zhang", Name: "zhang himself"},
		asOtherSubject:   {Role: socred.RoleSubject, Subject: "li", Name: "li herself"},
		asAuditor:        {Role: socred.RoleAuditor, Name: "auditor 1"},
	} {
		token(name, in)
	}
	return f
}

// on returns the fixture reporting to t, for subtests.
func (f *fixture) on(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

// newRequest returns a request with a body ("" for none).
func newRequest(method, path, body string) *http.Request {
	if body == "" {
		return httptest.NewRequest(method, path, nil)
	}
	return httptest.NewRequest(method, path, strings.NewReader(body))
}

// response is a recorded answer.
type response struct {
	t      *testing.T
	Code   int
	Header http.Header
	Body   []byte
}

// decode decodes the answer's JSON body into v.
func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// apiError returns the answer's error body.
func (r *response) apiError() (code, message, field string) {
	r.t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	r.decode(&e)
	return e.Error.Code, e.Error.Message, e.Error.Field
}

// do sends a request as a caller. body is nil (no body), a string or
// []byte (sent as is) or a value sent as JSON; a body is sent as
// application/json. The answer is validated against docs/openapi.yaml.
func (f *fixture) do(method, path, as string, body any) *response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return f.send(req, as)
}

// send sends a prepared request as a caller and validates the answer
// against the OpenAPI document.
func (f *fixture) send(req *http.Request, as string) *response {
	f.t.Helper()
	if as != asAnonymous {
		tok, ok := f.tokens[as]
		if !ok {
			f.t.Fatalf("no token for %q", as)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// Each request from an address of its own: the tests call with
	// unknown tokens on purpose, more often than the limit on failed
	// authentications from one address allows (TestFailedAuthenticationRateLimit).
	n := requestSeq.Add(1)
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", n>>16&255, n>>8&255, n&255)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	res := &response{t: f.t, Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	_, pattern := f.routes.Handler(req)
	validateResponse(f.t, pattern != "", req, res)
	return res
}

// must is do, failing the test unless the answer has the status.
func (f *fixture) must(status int, method, path, as string, body any) *response {
	f.t.Helper()
	res := f.do(method, path, as, body)
	if res.Code != status {
		f.t.Fatalf("%s %s as %s: got %d, want %d: %s", method, path, as, res.Code, status, res.Body)
	}
	return res
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (loggers).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// record is a record input for a POST /v1/records body.
func record(key, subject, rule string) map[string]any {
	return map[string]any{
		"key": key, "subject": subject, "scheme": "city", "rule": rule,
		"occurred_at": recordTime, "evidence": "case file " + key,
	}
}

// recordTime is when record's records occurred: an hour before the tests
// started, the same for every call, so that a record made again is the same
// record (made a second later, it was another, and a replay a conflict).
var recordTime = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

func records(rs ...map[string]any) map[string]any { return map[string]any{"records": rs} }
