package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/postgres/postgrestest"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
	"github.com/socred/socred/web"
)

const admin = "sct_web-test-admin"

// site is the pages over a real service on SQLite with the example pack,
// Zhang on the Rongcheng blacklist by his friend Li's default.
type site struct {
	t        *testing.T
	h        http.Handler
	svc      *service.Service
	subject  string // Zhang's token
	provider string
	reviewer string
	court    string // an authority designating on spc's lists
	// shift moves the service's clock ahead of the real one (set it, not
	// svc.Now, which the service's goroutines read).
	shift *atomic.Int64
	// origin is where requests are sent (default http://127.0.0.1:8080).
	origin string
}

func newSite(t *testing.T, st socred.Store) *site {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	p, _, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v", err)
	}
	svc, err := service.New(st, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.AdminToken = admin
	shift := new(atomic.Int64)
	svc.Now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	a, err := svc.Authenticate(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"zhang", "li"} {
		if _, err := svc.PutSubject(ctx, a, &socred.Subject{ID: id, Kind: socred.Person, Name: "Person " + id, Region: "rongcheng", Groups: []string{}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Relate(ctx, a, socred.Relation{From: "zhang", Type: "guarantor-of", To: "li"}); err != nil {
		t.Fatal(err)
	}
	city, err := svc.CreateToken(ctx, a, service.TokenInput{Role: socred.RoleAuthority, Authority: "rongcheng-credit-office", Name: "clerk"})
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := svc.Authenticate(ctx, city.Token)
	if _, err := svc.SubmitRecords(ctx, cc, []socred.RecordInput{{Key: "k1", Subject: "li", Scheme: "rongcheng", Rule: "loan-default",
		OccurredAt: time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second), Evidence: "loan contract 4471"}}); err != nil {
		t.Fatal(err)
	}
	// The clerk reads zhang's file: a read zhang sees, with its receipt.
	if _, err := svc.File(ctx, cc, "zhang", "debt collection"); err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, h: web.New(svc, web.Config{}).Handler(), svc: svc, shift: shift}
	for _, tk := range []struct {
		in  service.TokenInput
		dst *string
	}{
		{service.TokenInput{Role: socred.RoleSubject, Subject: "zhang", Name: "zhang"}, &s.subject},
		{service.TokenInput{Role: socred.RoleProvider, Name: "China Railway 12306"}, &s.provider},
		{service.TokenInput{Role: socred.RoleReviewer, Name: "review board"}, &s.reviewer},
		{service.TokenInput{Role: socred.RoleAuthority, Authority: "spc", Name: "court clerk"}, &s.court},
	} {
		tok, err := svc.CreateToken(ctx, a, tk.in)
		if err != nil {
			t.Fatal(err)
		}
		*tk.dst = tok.Token
	}
	return s
}

// do makes a request from the loopback host with the cookies given.
func (s *site) do(method, path string, form url.Values, cookies ...*http.Cookie) *http.Response {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	origin := s.origin
	if origin == "" {
		origin = "http://127.0.0.1:8080"
	}
	req := httptest.NewRequest(method, origin+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Result()
}

func text(t *testing.T, r *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func cookie(r *http.Response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in with a token and returns the session cookie and the
// session's CSRF token, from the page signed in to.
func (s *site) signIn(token string) (*http.Cookie, string) {
	s.t.Helper()
	form := s.do("GET", "/sign-in", nil)
	pre := cookie(form, "__Host-socred-csrf")
	m := csrfField.FindStringSubmatch(text(s.t, form))
	if pre == nil || m == nil {
		s.t.Fatal("sign-in form without its anti-forgery token")
	}
	r := s.do("POST", "/sign-in", url.Values{"csrf": {m[1]}, "token": {token}}, pre)
	sess := cookie(r, "__Host-socred-session")
	if r.StatusCode != http.StatusSeeOther || sess == nil {
		s.t.Fatalf("sign-in: %d, cookie %v", r.StatusCode, sess)
	}
	if !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.Domain != "" {
		s.t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/, no Domain", sess)
	}
	page := s.do("GET", r.Header.Get("Location"), nil, sess)
	m = csrfField.FindStringSubmatch(text(s.t, page))
	if m == nil {
		s.t.Fatalf("page %s without the session's anti-forgery token", r.Header.Get("Location"))
	}
	return sess, m[1]
}

func securityHeaders(t *testing.T, path string, r *http.Response, personal bool) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", path, csp, want)
		}
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", path)
	}
	if personal && h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", path, h.Get("Cache-Control"))
	}
}

// Every page renders with its content and the security headers; the
// subject signs in, sees his listing and its reason, appeals, downloads
// his file and signs out, which ends the session on the server.
func TestPages(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
		if err != nil {
			t.Fatal(err)
		}
		pages(t, newSite(t, st))
	})
	t.Run("postgres", func(t *testing.T) {
		db := postgrestest.Schema(t, postgrestest.Database(t, "the pages on PostgreSQL"))
		st, err := postgres.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		pages(t, newSite(t, st))
	})
}

func pages(t *testing.T, s *site) {
	r := s.do("GET", "/board", nil)
	body := text(t, r)
	if r.StatusCode != 200 || !strings.Contains(body, "Public register") || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("board: %d\n%s", r.StatusCode, body)
	}
	securityHeaders(t, "/board", r, false)

	if r := s.do("GET", "/me", nil); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/sign-in") {
		t.Fatalf("/me signed out: %d %s, want a redirect to sign in", r.StatusCode, r.Header.Get("Location"))
	}
	// A sign-in without the form's token, or with an unknown token.
	if r := s.do("POST", "/sign-in", url.Values{"token": {s.subject}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without CSRF: %d, want 403", r.StatusCode)
	}
	form := s.do("GET", "/sign-in", nil)
	securityHeaders(t, "/sign-in", form, true)
	m := csrfField.FindStringSubmatch(text(t, form))
	bad := s.do("POST", "/sign-in", url.Values{"csrf": {m[1]}, "token": {"sct_nobody"}}, cookie(form, "__Host-socred-csrf"))
	if b := text(t, bad); bad.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "not known") || cookie(bad, "__Host-socred-session") != nil {
		t.Errorf("unknown token: %d\n%s", bad.StatusCode, b)
	}

	sess, csrf := s.signIn(s.subject)
	again, _ := s.signIn(s.subject)
	if again.Value == sess.Value {
		t.Error("a second sign-in reused the session")
	}
	r = s.do("GET", "/me", nil, sess)
	body = text(t, r)
	securityHeaders(t, "/me", r, true)
	for _, want := range []string{
		"Your file, Person zhang", "950", // the score after the derived -50
		"Rongcheng dishonest residents (below 960)", `score(&#34;rongcheng&#34;) &lt; 960`, // the listing and its reason
		"ride-high-speed-train", "loan contract 4471", "derived from record", "receipt ", // restriction, evidence, joint liability, audit receipt
		"Your relations", "guarantor-of", // zhang guarantees li's loan
		`id="chart-data"`, "/static/vendor/uplot/uPlot.iife.min.js", "Download your file",
		"are kept for 2 years from when they were made, then deleted", // the default retention of checks
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/me lacks %q", want)
		}
	}
	if !regexp.MustCompile(`<td>clerk</td><td>authority</td><td>debt collection</td><td><small>receipt \d+</small></td>`).MatchString(body) {
		t.Error("/me does not show the clerk's read of the file with its receipt")
	}
	var charts []struct {
		Scheme string
		X, Y   []int64
	}
	cd := regexp.MustCompile(`(?s)<script type="application/json" id="chart-data">(.*?)</script>`).FindStringSubmatch(body)
	if cd == nil || json.Unmarshal([]byte(cd[1]), &charts) != nil || len(charts) == 0 || charts[0].Y[len(charts[0].Y)-1] != 950 {
		t.Errorf("chart data: %v", cd)
	}

	// Appeal the derived record: without the form's token, refused.
	recID := regexp.MustCompile(`name="record" value="(\d+)"`).FindStringSubmatch(body)
	if recID == nil {
		t.Fatal("no appeal form for the record")
	}
	if r := s.do("POST", "/me/appeals", url.Values{"record": {recID[1]}, "statement": {"I did not guarantee this loan"}}, sess); r.StatusCode != http.StatusForbidden {
		t.Errorf("appeal without CSRF: %d, want 403", r.StatusCode)
	}
	r = s.do("POST", "/me/appeals", url.Values{"csrf": {csrf}, "record": {recID[1]}, "statement": {"I did not guarantee this loan"}}, sess)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("appeal: %d %s", r.StatusCode, text(t, r))
	}
	if body := text(t, s.do("GET", r.Header.Get("Location"), nil, sess)); !strings.Contains(body, "appeal apl-") || !strings.Contains(body, "<strong>open</strong>") {
		t.Errorf("after appealing, the page does not show the open appeal")
	}

	// The reviewer overturns it in the console; Zhang's page shows it.
	rsess, rcsrf := s.signIn(s.reviewer)
	r = s.do("GET", "/console", nil, rsess)
	body = text(t, r)
	securityHeaders(t, "/console", r, true)
	apl := regexp.MustCompile(`id="appeal-(apl-[^"]+)"`).FindStringSubmatch(body)
	if apl == nil {
		t.Fatalf("console without the appeal:\n%s", body)
	}
	for _, want := range []string{"Review queue", "I did not guarantee this loan", "Population by grade", `id="console-data"`, "Entries coming and going", "The loaded scheme pack", `class="pack-lists"`, "List of dishonest judgment debtors"} {
		if !strings.Contains(body, want) {
			t.Errorf("/console lacks %q", want)
		}
	}
	r = s.do("POST", "/console/appeals/"+apl[1]+"/decision", url.Values{"csrf": {rcsrf}, "decision": {"overturned"}, "reasons": {"no guarantee contract on file"}}, rsess)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/console?done=") {
		t.Fatalf("decision: %d %s", r.StatusCode, text(t, r))
	}
	// The page confirms what this server did, and shows no text a link
	// brings.
	if b := text(t, s.do("GET", r.Header.Get("Location"), nil, rsess)); !strings.Contains(b, "Done: appeal "+apl[1]+" overturned.") {
		t.Errorf("the console after the decision does not confirm it")
	}
	// Another server over the same store (here, another Web over the
	// service) confirms it too: the key is the store's, not the process's.
	other := web.New(s.svc, web.Config{}).Handler()
	req := httptest.NewRequest("GET", "http://127.0.0.1:8080"+r.Header.Get("Location"), nil)
	req.AddCookie(rsess)
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "Done: appeal "+apl[1]+" overturned.") {
		t.Errorf("another server does not confirm the decision (%d)", rec.Code)
	}
	if b := text(t, s.do("GET", "/console?done=Your+account+is+frozen+xyzzy&sig=x", nil, rsess)); strings.Contains(b, "xyzzy") {
		t.Errorf("the console shows a confirmation it did not sign")
	}
	if b := text(t, s.do("GET", "/me?done=Call+us+and+read+out+your+token", nil, sess)); strings.Contains(b, "read out") {
		t.Errorf("/me shows a confirmation it did not sign")
	}
	body = text(t, s.do("GET", "/me", nil, sess))
	if !strings.Contains(body, "overturned") || strings.Contains(body, "Rongcheng dishonest residents (below 960)") {
		t.Errorf("after the overturn, /me still shows the listing or not the overturned record")
	}
	if !strings.Contains(body, "Lists you were on") || !strings.Contains(body, "<td>rongcheng-blacklist</td>") {
		t.Errorf("after the overturn, /me does not show the listing among those zhang was on")
	}

	// A court designates in the console.
	csess, ccsrf := s.signIn(s.court)
	if b := text(t, s.do("GET", "/console", nil, csess)); !strings.Contains(b, `id="designate-form"`) || strings.Contains(b, "Review queue") {
		t.Errorf("the court's console: no designation form, or a review queue it may not see")
	}
	r = s.do("POST", "/console/designations", url.Values{"csrf": {ccsrf}, "list": {"judgment-defaulters"}, "subject": {"li"}, "reason": {"unpaid judgment"}, "case": {"(2026) 1"}}, csess)
	if r.StatusCode != http.StatusSeeOther {
		t.Errorf("designation: %d %s", r.StatusCode, text(t, r))
	}
	if r := s.do("GET", "/console", nil, sess); r.StatusCode != http.StatusForbidden {
		t.Errorf("a subject's /console: %d, want 403", r.StatusCode)
	}

	r = s.do("GET", "/me/export", nil, sess)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") || !json.Valid([]byte(text(t, r))) {
		t.Errorf("export: %d %s", r.StatusCode, r.Header.Get("Content-Disposition"))
	}

	// A provider's check of Li, still listed by her default, with every reason.
	psess, pcsrf := s.signIn(s.provider)
	r = s.do("POST", "/check", url.Values{"csrf": {pcsrf}, "subject": {"li"}, "action": {"ride-high-speed-train"}, "purpose": {"G1234"}}, psess)
	body = text(t, r)
	securityHeaders(t, "/check", r, true)
	for _, want := range []string{"Not allowed: li, ride-high-speed-train", "rongcheng-blacklist", "Rongcheng Credit Points Measures",
		"Why: score(&#34;rongcheng&#34;) &lt; 960", "appeal the records behind it"} {
		if !strings.Contains(body, want) {
			t.Errorf("/check lacks %q", want)
		}
	}
	if r := s.do("GET", "/me", nil, psess); r.StatusCode != http.StatusForbidden {
		t.Errorf("a provider's /me: %d, want 403", r.StatusCode)
	}
	if r := s.do("GET", "/check", nil, sess); r.StatusCode != http.StatusForbidden {
		t.Errorf("a subject's /check: %d, want 403", r.StatusCode)
	}

	// Signing out ends the session on the server: the cookie, kept, no
	// longer signs in.
	if r := s.do("POST", "/sign-out", url.Values{"csrf": {csrf}}, sess); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.StatusCode)
	}
	if r := s.do("GET", "/me", nil, sess); r.StatusCode != http.StatusSeeOther {
		t.Errorf("/me with a signed-out cookie: %d, want a redirect to sign in", r.StatusCode)
	}
	// Revoking a token ends the sessions signed in with it.
	ctx := context.Background()
	adm, _ := s.svc.Authenticate(ctx, admin)
	pc, err := s.svc.Authenticate(ctx, s.provider)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/check", nil, psess); r.StatusCode != http.StatusOK {
		t.Fatalf("the provider's /check before the revocation: %d", r.StatusCode)
	}
	if _, err := s.svc.RevokeToken(ctx, adm, pc.Token.ID); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/check", nil, psess); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the provider's /check after its token was revoked: %d, want a redirect to sign in", r.StatusCode)
	}

	for _, path := range []string{"/static/app.css", "/static/charts.js", "/static/vendor/uplot/uPlot.iife.min.js", "/static/vendor/uplot/LICENSE"} {
		if r := s.do("GET", path, nil); r.StatusCode != 200 {
			t.Errorf("%s: %d", path, r.StatusCode)
		}
	}
	for _, path := range []string{"/static/", "/static/vendor/", "/static/vendor/uplot/", "/static/vendor"} {
		if r := s.do("GET", path, nil); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusMovedPermanently {
			t.Errorf("%s: %d, want no listing", path, r.StatusCode)
		}
	}
}

// /me offers the forms the API would take now: an appeal within its time
// and while none is open, credit repair once the list's wait has passed.
func TestMeOffersWhatTheAPITakes(t *testing.T) {
	s, a := sqliteSite(t)
	ctx := context.Background()
	if _, err := s.svc.Designate(ctx, a, "judgment-defaulters", service.DesignationInput{Subject: "zhang", Reason: "unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	sess, _ := s.signIn(s.subject)
	body := text(t, s.do("GET", "/me", nil, sess))
	for _, want := range []string{"Appeal this entry", "You may apply for credit repair from", "appeal the designation to a reviewer within 30d"} {
		if !strings.Contains(body, want) {
			t.Errorf("/me on the list a day: lacks %q", want)
		}
	}
	// A form larger than the pages take is 413, not an anti-forgery failure.
	big := s.do("POST", "/me/appeals", url.Values{"csrf": {"x"}, "list": {"judgment-defaulters"}, "statement": {strings.Repeat("a", 70<<10)}}, sess)
	if b := text(t, big); big.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b, "larger than 64 KiB") {
		t.Errorf("a 70 KiB form: %d\n%s", big.StatusCode, b)
	}
	zhang, _ := s.svc.Authenticate(ctx, s.subject)
	appeal, err := s.svc.FileAppeal(ctx, zhang, service.AppealInput{List: "judgment-defaulters", Statement: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	body = text(t, s.do("GET", "/me", nil, sess))
	if strings.Contains(body, "Appeal this entry") || !strings.Contains(body, "Your appeal of this entry is open") {
		t.Errorf("/me with the appeal open offers another")
	}
	// Decided: left open, its review would be overdue forty days on, and
	// the entry's effect suspended by whichever tick of the scheduler came
	// first (it raced the page before, and lost under load).
	reviewer, _ := s.svc.Authenticate(ctx, s.reviewer)
	if _, err := s.svc.DecideAppeal(ctx, reviewer, appeal.ID, service.DecisionInput{Decision: socred.AppealUpheld, Reasons: "the judgment is unpaid"}); err != nil {
		t.Fatal(err)
	}
	// Forty days on: the records' time to appeal has ended, and credit
	// repair is open.
	s.shift.Store(int64(40 * 24 * time.Hour))
	if _, err := s.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	sess, _ = s.signIn(s.subject) // the session of forty days ago has ended
	body = text(t, s.do("GET", "/me", nil, sess))
	if strings.Contains(body, "Appeal record") || !strings.Contains(body, "time to appeal ended") || !strings.Contains(body, "Apply for credit repair") {
		t.Errorf("/me forty days on: appeal forms %v, ended %v, repair %v", strings.Contains(body, "Appeal record"), strings.Contains(body, "time to appeal ended"), strings.Contains(body, "Apply for credit repair"))
	}
}

// The board shows the register a page at a time, with links between pages
// that keep the search.
func TestBoardPages(t *testing.T) {
	s, a := sqliteSite(t)
	ctx := context.Background()
	var subs []*socred.Subject
	for i := range 60 {
		subs = append(subs, &socred.Subject{ID: fmt.Sprintf("co-%02d", i), Kind: socred.Organisation, Name: fmt.Sprintf("Company %02d", i), Region: "rongcheng", Groups: []string{}})
	}
	if _, err := s.svc.PutSubjects(ctx, a, subs); err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if _, err := s.svc.Designate(ctx, a, "judgment-defaulters", service.DesignationInput{Subject: sub.ID, Reason: "unpaid judgment"}); err != nil {
			t.Fatal(err)
		}
	}
	s.shift.Store(int64(11 * 24 * time.Hour)) // past the grace period
	first := text(t, s.do("GET", "/board?q=Company", nil))
	if strings.Count(first, `class="entry"`) != 50 || !strings.Contains(first, "Entries 1 to 50") || !strings.Contains(first, `href="/board?page=2&amp;q=Company" rel="next"`) {
		t.Errorf("the first page: %d entries\n%s", strings.Count(first, `class="entry"`), first)
	}
	second := text(t, s.do("GET", "/board?page=2&q=Company", nil))
	if strings.Count(second, `class="entry"`) != 10 || !strings.Contains(second, "Entries 51 to 60") || !strings.Contains(second, `rel="prev"`) || strings.Contains(second, `rel="next"`) {
		t.Errorf("the second page: %d entries", strings.Count(second, `class="entry"`))
	}
	if r := s.do("GET", "/board?page=zero", nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("page=zero: %d, want 400", r.StatusCode)
	}
}

// Under the pages' paths, an unknown page is the error page's 404 and a
// form's path asked with GET is 405.
func TestPagesNotFound(t *testing.T) {
	s, _ := sqliteSite(t)
	sess, _ := s.signIn(s.subject)
	for path, want := range map[string]int{"/me/foo": 404, "/console/foo": 404, "/me/appeals": 405, "/console/appeals/apl-x/decision": 405} {
		r := s.do("GET", path, nil, sess)
		if b := text(t, r); r.StatusCode != want || !strings.Contains(b, "<html") {
			t.Errorf("GET %s: %d, want %d and the error page\n%s", path, r.StatusCode, want, b)
		}
	}
}

// sqliteSite is a site on a SQLite database of its own, and the admin.
func sqliteSite(t *testing.T) (*site, *socred.Caller) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t, st)
	a, err := s.svc.Authenticate(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

// Over plain HTTP on a host other than the loopback (a network without
// TLS), sign-in works: a browser drops __Host- cookies without Secure, so
// the cookies there have plain names, and the page warns that the token
// crosses the network in the clear. Each kind of connection reads only its
// own cookies.
func TestSignInOverPlainHTTP(t *testing.T) {
	s, _ := sqliteSite(t)
	if b := text(t, s.do("GET", "/sign-in", nil)); strings.Contains(b, "not encrypted") {
		t.Error("the sign-in page on the loopback host warns of a connection that is not encrypted")
	}
	loopSess, _ := s.signIn(s.subject)

	s.origin = "http://socred.example.org"
	form := s.do("GET", "/sign-in", nil)
	body := text(t, form)
	pre := cookie(form, "socred-csrf")
	m := csrfField.FindStringSubmatch(body)
	if pre == nil || m == nil || pre.Secure || !pre.HttpOnly || pre.SameSite != http.SameSiteStrictMode || cookie(form, "__Host-socred-csrf") != nil {
		t.Fatalf("sign-in form over plain HTTP: cookies %v, want socred-csrf, HttpOnly, SameSite=Strict, not Secure", form.Cookies())
	}
	if !strings.Contains(body, "not encrypted") {
		t.Error("the sign-in page over plain HTTP does not say the connection is not encrypted")
	}
	r := s.do("POST", "/sign-in", url.Values{"csrf": {m[1]}, "token": {s.subject}}, pre)
	sess := cookie(r, "socred-session")
	if r.StatusCode != http.StatusSeeOther || sess == nil || sess.Secure || !sess.HttpOnly {
		t.Fatalf("sign-in over plain HTTP: %d, cookies %v, want 303 and socred-session, HttpOnly, not Secure", r.StatusCode, r.Cookies())
	}
	if me := s.do("GET", "/me", nil, sess); me.StatusCode != http.StatusOK || !strings.Contains(text(t, me), "zhang") {
		t.Errorf("/me over plain HTTP with its session: %d", me.StatusCode)
	}
	// A cookie named for the other kind of connection is not read.
	if me := s.do("GET", "/me", nil, loopSess); me.StatusCode != http.StatusSeeOther {
		t.Errorf("/me over plain HTTP with a __Host- session cookie: %d, want 303 to sign in", me.StatusCode)
	}
	s.origin = ""
	if me := s.do("GET", "/me", nil, &http.Cookie{Name: "__Host-socred-session", Value: sess.Value}); me.StatusCode != http.StatusOK {
		t.Errorf("/me on the loopback host with the session's secret: %d", me.StatusCode)
	}
	if me := s.do("GET", "/me", nil, sess); me.StatusCode != http.StatusSeeOther {
		t.Errorf("/me on the loopback host with the plain session cookie: %d, want 303 to sign in", me.StatusCode)
	}
}

// Behind a trusted proxy that took HTTPS, the pages ask browsers to keep
// to HTTPS (Strict-Transport-Security); over plain HTTP they do not.
func TestStrictTransportBehindProxy(t *testing.T) {
	s, _ := sqliteSite(t)
	trusted, err := web.ParsePrefixes("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	h := web.TrustProxies(s.h, trusted)
	for _, proto := range []string{"https", "http"} {
		r := httptest.NewRequest("GET", "http://socred.example.org/sign-in", nil)
		r.RemoteAddr = "10.1.2.3:5000"
		r.Header.Set("X-Forwarded-Proto", proto)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if got := rec.Result().Header.Get("Strict-Transport-Security"); (got != "") != (proto == "https") {
			t.Errorf("forwarded %s: Strict-Transport-Security %q", proto, got)
		}
	}
}
