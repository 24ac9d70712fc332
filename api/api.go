// Package api is socred's JSON HTTP API (see docs/openapi.yaml). It has one
// route table: every route names the roles that may call it, and the role
// check happens in one place, before a handler reads anything of the
// request. Handlers decode, call the application service and encode; the
// service re-checks object-level rights (own authority, own subject).
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// MaxBody is the largest request body: the API refuses bodies over 1 MiB,
// but for record batches (MaxRecordsBody).
const MaxBody = 1 << 20

// MaxRecordsBody is the largest body of POST /v1/records: 4 MiB, so that a
// batch of 10,000 records with ids, keys and evidence of common lengths
// (up to about 400 bytes a record) fits, as API.md's 10,000 promises.
const MaxRecordsBody = 4 << 20

// Config configures an API.
type Config struct {
	// Logger receives the request log and the internal errors behind 500
	// answers; nil discards them.
	Logger *slog.Logger
}

// API serves socred's JSON HTTP API over an application service.
type API struct {
	svc     *service.Service
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	metrics *metrics
	// exact holds, for each route path without wildcards, the methods
	// that have a route there (GET's with HEAD): serve hands such a
	// request to the mux without asking it first whether a route matches.
	exact map[string][]string
}

// Route is one entry of the route table, as Routes reports it.
type Route struct {
	Method string
	Path   string        // a ServeMux and OpenAPI path, e.g. /v1/subjects/{id}
	Roles  []socred.Role // the roles that may call it; nil for a public route
}

// route is a Route with its handler and body limit.
type route struct {
	Route
	maxBody int64
	handle  handlerFunc
}

// handlerFunc handles a request of an authorised caller. It returns an
// error only before it has written anything; the error becomes the answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *socred.Caller) error

var (
	anyRole        = []socred.Role{socred.RoleAdmin, socred.RoleAuthority, socred.RoleProvider, socred.RoleReviewer, socred.RoleSubject, socred.RoleAuditor}
	fileReaders    = []socred.Role{socred.RoleAdmin, socred.RoleAuthority, socred.RoleReviewer, socred.RoleSubject}
	authorities    = []socred.Role{socred.RoleAdmin, socred.RoleAuthority}
	contactWriters = []socred.Role{socred.RoleAdmin, socred.RoleAuthority, socred.RoleSubject}
	exporters      = []socred.Role{socred.RoleAdmin, socred.RoleSubject}
	appellants     = []socred.Role{socred.RoleAdmin, socred.RoleSubject}
	reviewers      = []socred.Role{socred.RoleAdmin, socred.RoleReviewer}
	caseReaders    = []socred.Role{socred.RoleAdmin, socred.RoleReviewer, socred.RoleSubject}
	listReaders    = []socred.Role{socred.RoleAdmin, socred.RoleAuthority, socred.RoleAuditor}
	checkers       = []socred.Role{socred.RoleAdmin, socred.RoleProvider}
	adminOnly      = []socred.Role{socred.RoleAdmin}
	metricsReaders = []socred.Role{socred.RoleAdmin, socred.RoleAuditor}
)

// New returns the API over a service.
func New(svc *service.Service, cfg Config) *API {
	a := &API{svc: svc, log: cfg.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.metrics = newMetrics()
	a.routes = []route{
		{Route: Route{"POST", "/v1/tokens", adminOnly}, handle: a.createToken},
		{Route: Route{"DELETE", "/v1/tokens/{id}", adminOnly}, handle: a.revokeToken},
		{Route: Route{"PUT", "/v1/subjects/{id}", authorities}, handle: a.putSubject},
		{Route: Route{"GET", "/v1/subjects/{id}", fileReaders}, handle: a.getSubject},
		{Route: Route{"GET", "/v1/subjects/{id}/file", fileReaders}, handle: a.getFile},
		{Route: Route{"PUT", "/v1/subjects/{id}/contact", contactWriters}, handle: a.putContact},
		{Route: Route{"GET", "/v1/subjects/{id}/export", exporters}, handle: a.exportFile},
		{Route: Route{"POST", "/v1/appeals", appellants}, handle: a.fileAppeal},
		{Route: Route{"GET", "/v1/appeals", reviewers}, handle: a.openAppeals},
		{Route: Route{"GET", "/v1/appeals/{id}", caseReaders}, handle: a.getAppeal},
		{Route: Route{"POST", "/v1/appeals/{id}/decision", reviewers}, handle: a.decideAppeal},
		{Route: Route{"POST", "/v1/repairs", appellants}, handle: a.applyRepair},
		{Route: Route{"GET", "/v1/repairs", reviewers}, handle: a.pendingRepairs},
		{Route: Route{"GET", "/v1/repairs/{id}", caseReaders}, handle: a.getRepair},
		{Route: Route{"POST", "/v1/repairs/{id}/decision", reviewers}, handle: a.decideRepair},
		{Route: Route{"PUT", "/v1/relations", authorities}, handle: a.relate},
		{Route: Route{"DELETE", "/v1/relations", authorities}, handle: a.unrelate},
		{Route: Route{"POST", "/v1/records", authorities}, handle: a.submitRecords, maxBody: MaxRecordsBody},
		{Route: Route{"POST", "/v1/checks", checkers}, handle: a.check},
		{Route: Route{"POST", "/v1/lists/{list}/entries", authorities}, handle: a.designate},
		{Route: Route{"GET", "/v1/lists/{list}/entries", listReaders}, handle: a.listEntries},
		{Route: Route{"PATCH", "/v1/lists/{list}/entries/{subject}", authorities}, handle: a.extend},
		{Route: Route{"DELETE", "/v1/lists/{list}/entries/{subject}", authorities}, handle: a.undesignate},
		{Route: Route{"GET", "/v1/register", nil}, handle: a.register},
		{Route: Route{"GET", "/v1/schemes", anyRole}, handle: a.schemes},
		{Route: Route{"GET", "/v1/audit/checkpoint", nil}, handle: a.auditCheckpoint},
		{Route: Route{"GET", "/v1/audit/key", nil}, handle: a.auditKey},
		{Route: Route{"GET", "/v1/audit/proof/{index}", nil}, handle: a.auditProof},
		{Route: Route{"GET", "/v1/audit/consistency", nil}, handle: a.auditConsistency},
		{Route: Route{"GET", "/healthz", nil}, handle: a.health},
		{Route: Route{"GET", "/metrics", metricsReaders}, handle: a.serveMetrics},
	}
	a.exact = map[string][]string{}
	for _, rt := range a.routes {
		if rt.maxBody == 0 {
			rt.maxBody = MaxBody
		}
		a.mux.Handle(rt.Method+" "+rt.Path, a.wrap(rt))
		if !strings.Contains(rt.Path, "{") {
			a.exact[rt.Path] = append(a.exact[rt.Path], rt.Method)
			if rt.Method == http.MethodGet {
				a.exact[rt.Path] = append(a.exact[rt.Path], http.MethodHead)
			}
		}
	}
	return a
}

// Handler returns the API's HTTP handler.
func (a *API) Handler() http.Handler { return http.HandlerFunc(a.serve) }

// Routes returns the route table.
func (a *API) Routes() []Route {
	rs := make([]Route, len(a.routes))
	for i, rt := range a.routes {
		rs[i] = rt.Route
		rs[i].Roles = slices.Clone(rt.Roles)
	}
	return rs
}

// Registry returns the API's private Prometheus registry, which GET
// /metrics serves; other components may register their collectors in it.
func (a *API) Registry() *prometheus.Registry { return a.metrics.reg }

// serve dispatches a request. Requests no route matches get a JSON 404 or
// 405 instead of ServeMux's plain-text answers.
func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	if slices.Contains(a.exact[r.URL.Path], r.Method) {
		a.mux.ServeHTTP(w, r)
		return
	}
	if _, pattern := a.mux.Handler(r); pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	fw := &fallbackWriter{ResponseWriter: w}
	a.mux.ServeHTTP(fw, r)
	switch fw.code {
	case http.StatusNotFound:
		a.writeError(w, r, "", socred.Errorf(socred.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	case http.StatusMethodNotAllowed:
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code:    "method_not_allowed",
			Message: "method " + r.Method + " is not allowed here; allowed: " + w.Header().Get("Allow"),
		}})
	}
	a.observe(r, "unmatched", "", fw.code, start)
}

// wrap returns the handler of a route: authentication and the role check
// first, then the body limit, then the route's handler, with the request
// logged and counted.
func (a *API) wrap(rt route) http.Handler {
	name := rt.Method + " " + rt.Path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var c *socred.Caller
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "route", name, "panic", v)
				if !sw.wrote {
					a.writeError(sw, r, name, errors.New("panic"))
				}
			}
			a.observe(r, name, c.Role(), sw.status(), start)
		}()
		c, err := a.authorize(r, rt.Roles)
		if err == nil && r.ContentLength > rt.maxBody {
			err = tooLarge(rt.maxBody)
		}
		if err == nil {
			if r.ContentLength < 0 {
				// A body of declared length is cut there by the server
				// (and the length was checked above); one sent in chunks
				// is cut at the route's limit.
				r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)
			}
			err = rt.handle(sw, r, c)
		}
		if err != nil {
			if sw.wrote {
				a.log.ErrorContext(r.Context(), "error after the answer began", "route", name, "err", err)
				return
			}
			a.writeError(sw, r, name, err)
		}
	})
}

// authorize returns the caller of a request to a route the roles may call:
// anonymous for a public route (its token, if any, is not looked at); for
// any other route, a missing or unknown token is unauthorized and a token
// of another role forbidden.
func (a *API) authorize(r *http.Request, roles []socred.Role) (*socred.Caller, error) {
	if roles == nil {
		return &socred.Caller{}, nil
	}
	token, ok := bearer(r)
	if !ok {
		return nil, socred.Errorf(socred.EUNAUTHORIZED, "an Authorization: Bearer token is required")
	}
	c, err := a.svc.AuthenticateFrom(r.Context(), token, service.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	if c.Token == nil {
		return nil, socred.Errorf(socred.EUNAUTHORIZED, "an Authorization: Bearer token is required")
	}
	if !c.Is(roles...) {
		return nil, socred.Errorf(socred.EFORBIDDEN, "%s token may not call this endpoint", article(string(c.Role())))
	}
	return c, nil
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// observe logs a request and counts it in the metrics. It never logs the
// path (it holds subject ids), headers or bodies: only the route pattern.
func (a *API) observe(r *http.Request, name string, role socred.Role, status int, start time.Time) {
	d := time.Since(start)
	a.metrics.observe(name, status, d)
	// Requests are logged at debug level: at check volume an info line per
	// request would cost more than the check.
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	if !a.log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", name),
		slog.Int("status", status),
		slog.Duration("duration", d),
	}
	if role != "" {
		attrs = append(attrs, slog.String("role", string(role)))
	}
	a.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// statusWriter records the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// fallbackWriter swallows ServeMux's plain-text 404 and 405 answers, so
// that serve can answer in JSON, and passes anything else through.
type fallbackWriter struct {
	http.ResponseWriter
	code    int
	swallow bool
}

func (w *fallbackWriter) WriteHeader(code int) {
	w.code = code
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		w.swallow = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *fallbackWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// page reads the limit and offset query parameters of a list endpoint:
// limit defaults to 100 and is capped at 1000; offset defaults to 0.
func page(r *http.Request) (socred.Page, error) {
	p := socred.Page{Limit: 100}
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, socred.FieldErrorf("limit", "must be a positive integer, not %q", s)
		}
		p.Limit = min(n, 1000)
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, socred.FieldErrorf("offset", "must be a non-negative integer, not %q", s)
		}
		p.Offset = n
	}
	return p, nil
}

// healthTimeout bounds how long GET /healthz waits for the store.
const healthTimeout = 2 * time.Second

// article returns word with "a" or "an" before it.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
