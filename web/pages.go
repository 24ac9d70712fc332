package web

import (
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// signInPage is the sign-in form's data.
type signInPage struct {
	Title, CSRF, Next, Error string
	// Plain says the connection is not encrypted (see secure).
	Plain bool
}

func (w *Web) signInForm(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	csrf := randomToken()
	setCookie(rw, r, csrfCookie, csrf, 3600)
	w.render(rw, r, http.StatusOK, "signin", signInPage{Title: "Sign in", CSRF: csrf, Next: safeNext(r.URL.Query().Get("next")), Plain: !secure(r)})
}

// signIn starts a new session for the token given, and sends the browser
// to the page for its role.
func (w *Web) signIn(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := formTooLarge(r); err != nil {
		w.fail(rw, r, err)
		return
	}
	ck, err := r.Cookie(csrfCookie.name(r))
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ck.Value)) != 1 {
		w.fail(rw, r, socred.Errorf(socred.EFORBIDDEN, "the form's anti-forgery token does not match; reload the sign-in page"))
		return
	}
	secret, sess, c, err := w.svc.StartSession(r.Context(), strings.TrimSpace(r.PostFormValue("token")), service.ClientAddr(r))
	if err != nil {
		if code := socred.ErrorCode(err); code == socred.EUNAUTHORIZED || code == socred.EINVALID {
			csrf := randomToken()
			setCookie(rw, r, csrfCookie, csrf, 3600)
			w.render(rw, r, http.StatusUnauthorized, "signin", signInPage{Title: "Sign in", CSRF: csrf, Plain: !secure(r),
				Next: safeNext(r.PostFormValue("next")), Error: "That token is not known. Paste the whole token, starting with sct_."})
			return
		}
		w.fail(rw, r, err)
		return
	}
	setCookie(rw, r, csrfCookie, "", -1)
	setCookie(rw, r, sessionCookie, secret, int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()))
	next := safeNext(r.PostFormValue("next"))
	if next == "" || next == "/sign-in" {
		next = home(c)
	}
	http.Redirect(rw, r, next, http.StatusSeeOther) // #nosec G710 -- next is a local path (safeNext) or the caller's home page
}

// home is the page a caller starts on.
func home(c *socred.Caller) string {
	if c.Is(socred.RoleProvider) {
		return "/check"
	}
	if c.Is(socred.RoleSubject) {
		return "/me"
	}
	if c.Is(socred.RoleAdmin, socred.RoleAuthority, socred.RoleReviewer) {
		return "/console"
	}
	return "/board"
}

func (w *Web) signOut(rw http.ResponseWriter, r *http.Request, s *session) {
	if ck, err := r.Cookie(sessionCookie.name(r)); err == nil {
		if err := w.svc.EndSession(r.Context(), ck.Value); err != nil {
			w.fail(rw, r, err)
			return
		}
	}
	setCookie(rw, r, sessionCookie, "", -1)
	http.Redirect(rw, r, "/sign-in", http.StatusSeeOther)
}

// mePage is the subject's portal.
type mePage struct {
	Title   string
	CSRF    string
	Who     string
	File    *service.File
	Schemes []schemeView
	// Charts is the data of the score charts, for the chart script.
	Charts   template.JS
	Lists    []listView
	Records  []recordView
	Notice   string
	Appealed map[string]bool // records and lists with an open appeal
	// ChecksKept is how long checks and reads of the file are kept.
	ChecksKept string
}

type schemeView struct {
	socred.Score
	Name string
}

type recordView struct {
	service.FileRecord
	Appealable bool
	// AppealEnded is when the time to appeal ended, if it has.
	AppealEnded *time.Time
}

// listView is a listing with how to get off it.
type listView struct {
	socred.Listing
	Name       string
	Restricts  []string
	Grants     []string
	Designated bool
	// Appealable says the entry may be appealed now: within the list's
	// appeal window and with no appeal of it open; AppealEnded is when
	// the window closed, if it has, and Appealed that an appeal is open.
	Appealable  bool
	Appealed    bool
	AppealEnded *time.Time
	RepairRoute []string
	// RepairFrom is when credit repair may be applied for, if not yet;
	// RepairPending that an application is pending.
	RepairFrom    *time.Time
	RepairPending bool
}

// chartSeries is one scheme's score over time: x in Unix seconds.
type chartSeries struct {
	Scheme string  `json:"scheme"`
	X      []int64 `json:"x"`
	Y      []int64 `json:"y"`
}

func (w *Web) me(rw http.ResponseWriter, r *http.Request, s *session) {
	if !s.caller.Is(socred.RoleSubject) {
		w.fail(rw, r, socred.Errorf(socred.EFORBIDDEN, "this page is a subject's own; sign in with a subject token"))
		return
	}
	id := s.caller.Token.Subject
	f, err := w.svc.File(r.Context(), s.caller, id, "")
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	p := w.svc.Pack()
	page := mePage{Title: "Your file", CSRF: s.CSRF, Who: f.Subject.Name, File: f, Appealed: map[string]bool{}, Notice: w.done(r),
		ChecksKept: w.svc.CheckRetentionPeriod().Words()}
	for _, a := range f.Appeals {
		if a.Status == socred.AppealOpen {
			page.Appealed[a.Record+"|"+a.List] = true
		}
	}
	var charts []chartSeries
	for _, sc := range f.Scores {
		v := schemeView{Score: sc, Name: sc.Scheme}
		if scheme := p.Scheme(sc.Scheme); scheme != nil {
			v.Name = scheme.Name
		}
		page.Schemes = append(page.Schemes, v)
		charts = append(charts, scoreSeries(sc, f.Records, time.Now()))
	}
	b, _ := json.Marshal(charts)
	page.Charts = template.JS(b) // #nosec G203 -- json.Marshal output, which escapes <, > and &, in a script of type application/json
	// The forms offered are those the API would take now: within the
	// time to appeal, with no appeal of the entry open, credit repair once
	// the list's repair_after has passed and with none pending.
	now := w.svc.Now()
	for _, rec := range f.Records {
		v := recordView{FileRecord: rec, Appealable: rec.Status == socred.RecordActive && !page.Appealed[rec.ID+"|"]}
		if scheme := p.Scheme(rec.Scheme); v.Appealable && scheme != nil {
			if end := scheme.AppealWithin.AddTo(rec.AcceptedAt); now.After(end) {
				v.Appealable, v.AppealEnded = false, &end
			}
		}
		page.Records = append(page.Records, v)
	}
	pending := map[string]bool{}
	for _, r := range f.Repairs {
		if r.Status == socred.RepairPending {
			pending[r.List] = true
		}
	}
	for _, l := range f.Listings {
		v := listView{Listing: l, Name: l.List, Designated: l.Designation != ""}
		if list := p.List(l.List); list != nil {
			v.Name = list.Name
			if v.Designated {
				v.Appealed = page.Appealed["|"+l.List]
				v.Appealable = !v.Appealed
				if end := list.AppealWithin.AddTo(l.Since); now.After(end) {
					v.Appealable, v.AppealEnded = false, &end
				}
				v.RepairRoute, v.RepairPending = list.Repair, pending[l.List]
				if from := list.RepairAfter.AddTo(l.Since); now.Before(from) {
					v.RepairFrom = &from
				}
			}
		}
		for _, m := range p.Measures {
			if m.List == l.List {
				v.Restricts = append(v.Restricts, m.Restricts...)
				v.Grants = append(v.Grants, m.Grants...)
			}
		}
		slices.Sort(v.Restricts)
		slices.Sort(v.Grants)
		page.Lists = append(page.Lists, v)
	}
	w.render(rw, r, http.StatusOK, "me", page)
}

// scoreSeries is a scheme's score over time from the records that moved
// it: each record adds its points when it occurs and takes them away when
// it stops counting (or when overturned).
func scoreSeries(sc socred.Score, recs []service.FileRecord, now time.Time) chartSeries {
	type step struct {
		at    time.Time
		delta int64
	}
	var steps []step
	for _, r := range recs {
		if r.Scheme != sc.Scheme || r.Overturned || r.Suspended {
			continue
		}
		steps = append(steps, step{r.OccurredAt, r.Points})
		if r.CountsUntil.Before(now) {
			steps = append(steps, step{r.CountsUntil, -r.Points})
		}
	}
	slices.SortFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	out := chartSeries{Scheme: sc.Scheme}
	score := sc.Baseline
	if len(steps) > 0 {
		out.X, out.Y = append(out.X, steps[0].at.Add(-24*time.Hour).Unix()), append(out.Y, score)
	} else {
		// Nothing moved the score: a flat line over the last month.
		out.X, out.Y = append(out.X, now.AddDate(0, -1, 0).Unix()), append(out.Y, score)
	}
	for _, s := range steps {
		score += s.delta
		out.X, out.Y = append(out.X, s.at.Unix()), append(out.Y, score)
	}
	out.X, out.Y = append(out.X, now.Unix()), append(out.Y, sc.Score)
	return out
}

func (w *Web) appeal(rw http.ResponseWriter, r *http.Request, s *session) {
	in := service.AppealInput{Record: r.PostFormValue("record"), List: r.PostFormValue("list"), Statement: r.PostFormValue("statement")}
	a, err := w.svc.FileAppeal(r.Context(), s.caller, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, w.doneURL("/me", "appeal "+a.ID+" filed"), http.StatusSeeOther)
}

func (w *Web) repair(rw http.ResponseWriter, r *http.Request, s *session) {
	var evidence []string
	for _, line := range strings.Split(r.PostFormValue("evidence"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			evidence = append(evidence, line)
		}
	}
	in := service.RepairInput{List: r.PostFormValue("list"), Route: r.PostFormValue("route"), Evidence: evidence, Statement: r.PostFormValue("statement")}
	rp, err := w.svc.ApplyRepair(r.Context(), s.caller, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, w.doneURL("/me", "application "+rp.ID+" filed"), http.StatusSeeOther)
}

func (w *Web) export(rw http.ResponseWriter, r *http.Request, s *session) {
	if !s.caller.Is(socred.RoleSubject) {
		w.fail(rw, r, socred.Errorf(socred.EFORBIDDEN, "only a subject downloads their own file here"))
		return
	}
	x, err := w.svc.Export(r.Context(), s.caller, s.caller.Token.Subject)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Disposition", `attachment; filename="socred-`+s.caller.Token.Subject+`.json"`)
	rw.Write(b) // #nosec G104 -- the headers are sent; a failed write means the client went away
}

// checkPage is a provider's check form and its answer.
type checkPage struct {
	Title    string
	CSRF     string
	Who      string
	Actions  []*socred.Action
	Subject  string
	Action   string
	Purpose  string
	Decision *socred.Decision
}

func (w *Web) checkPage(s *session) checkPage {
	p := checkPage{Title: "Check", CSRF: s.CSRF, Who: s.caller.Name()}
	for _, a := range w.svc.Pack().Actions {
		if acts := s.caller.Token.Actions; len(acts) == 0 || slices.Contains(acts, a.ID) {
			p.Actions = append(p.Actions, a)
		}
	}
	return p
}

func (w *Web) checkForm(rw http.ResponseWriter, r *http.Request, s *session) {
	if !s.caller.Is(socred.RoleProvider, socred.RoleAdmin) {
		w.fail(rw, r, socred.Errorf(socred.EFORBIDDEN, "only a provider checks; sign in with a provider token"))
		return
	}
	w.render(rw, r, http.StatusOK, "check", w.checkPage(s))
}

func (w *Web) check(rw http.ResponseWriter, r *http.Request, s *session) {
	in := service.CheckInput{Subject: strings.TrimSpace(r.PostFormValue("subject")), Action: r.PostFormValue("action"), Purpose: r.PostFormValue("purpose")}
	d, err := w.svc.Check(r.Context(), s.caller, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	p := w.checkPage(s)
	p.Subject, p.Action, p.Purpose, p.Decision = in.Subject, in.Action, in.Purpose, &d
	w.render(rw, r, http.StatusOK, "check", p)
}

// boardPage is the public board.
type boardPage struct {
	Title   string
	Q       string
	Entries []socred.RegisterEntry
	At      time.Time
	// Page is the page shown, from 1; Prev and Next the neighbouring
	// pages' links, when there are any.
	Page, From int
	Prev, Next string
}

// boardPageSize is how many entries a page of the board shows.
const boardPageSize = 50

func (w *Web) board(rw http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page := 1
	if s := r.URL.Query().Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100_000 {
			w.fail(rw, r, socred.FieldErrorf("page", "must be a page number from 1, not %q", s))
			return
		}
		page = n
	}
	// One more than a page, to know whether another follows.
	entries, err := w.svc.Register(r.Context(), "", q, socred.Page{Limit: boardPageSize + 1, Offset: (page - 1) * boardPageSize})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	link := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return "/board?" + v.Encode()
	}
	bp := boardPage{Title: "Public board", Q: q, Entries: entries, At: time.Now(), Page: page, From: (page-1)*boardPageSize + 1}
	if len(entries) > boardPageSize {
		bp.Entries, bp.Next = entries[:boardPageSize], link(page+1)
	}
	if page > 1 {
		bp.Prev = link(page - 1)
	}
	w.render(rw, r, http.StatusOK, "board", bp)
}
