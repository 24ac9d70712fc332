// Package web serves socred's pages: the subject's portal (/me), the public
// board (/board) and a provider's check form (/check). They are rendered on
// the server with html/template from embedded files; the only script is
// the one that draws charts with uPlot, embedded too, so the pages need no
// network. Every page carries a strict Content-Security-Policy, and
// personal pages are not cached.
package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the pages.
type Config struct {
	Logger *slog.Logger
	// PackWarnings are the linter's warnings on the loaded pack, which the
	// console shows.
	PackWarnings []string
}

// Web serves the pages over an application service.
type Web struct {
	svc  *service.Service
	log  *slog.Logger
	mux  *http.ServeMux
	tmpl map[string]*template.Template
	// warnings are the loaded pack's lint warnings.
	warnings []string
	// doneKey signs the confirmations a redirect after a form shows
	// (done), so that a link cannot make a page show text of its own:
	// derived from the store's secret, so that every server sharing it
	// (and this one after a restart) shows them; random until the
	// service is open.
	doneOnce sync.Once
	doneKey  []byte
}

// doneURL is path with a signed confirmation to show.
func (w *Web) doneURL(path, text string) string {
	return path + "?done=" + url.QueryEscape(text) + "&sig=" + w.doneSig(text)
}

// done returns the confirmation a request carries, if this server signed
// it.
func (w *Web) done(r *http.Request) string {
	q := r.URL.Query()
	text := q.Get("done")
	if text == "" || !hmac.Equal([]byte(q.Get("sig")), []byte(w.doneSig(text))) {
		return ""
	}
	return text
}

func (w *Web) doneSig(text string) string {
	w.doneOnce.Do(func() {
		if w.doneKey = w.svc.SecretKey("web confirmations"); w.doneKey == nil {
			w.doneKey = make([]byte, 32)
			rand.Read(w.doneKey)
		}
	})
	m := hmac.New(sha256.New, w.doneKey)
	m.Write([]byte(text))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Cookies. Over a secure connection (see secure) their names carry the
// __Host- prefix, which binds a cookie to this host and path / and which
// browsers accept only with Secure; over plain HTTP on another host a
// browser drops a Secure cookie, so there the names are plain (and the
// sign-in page says the connection is not encrypted). Each request reads
// only the cookie named for its own kind of connection, so a cookie set
// over plain HTTP is never taken over HTTPS.
type cookieName struct{ secure, plain string }

var (
	sessionCookie = cookieName{"__Host-socred-session", "socred-session"}
	csrfCookie    = cookieName{"__Host-socred-csrf", "socred-csrf"} // before sign-in, for the sign-in form
)

// name returns the cookie's name for r's connection.
func (c cookieName) name(r *http.Request) string {
	if secure(r) {
		return c.secure
	}
	return c.plain
}

// New returns the pages over a service.
func New(svc *service.Service, cfg Config) *Web {
	w := &Web{svc: svc, log: cfg.Logger, mux: http.NewServeMux(), tmpl: map[string]*template.Template{}, warnings: cfg.PackWarnings}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	funcs := template.FuncMap{
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"add": func(xs ...int) int {
			n := 0
			for _, x := range xs {
				n += x
			}
			return n
		},
		"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"until": func(t *time.Time) string {
			if t == nil {
				return "no end date"
			}
			return t.UTC().Format("2006-01-02")
		},
		"signed": func(n int64) string {
			if n > 0 {
				return "+" + itoa(n)
			}
			return itoa(n)
		},
	}
	for _, page := range []string{"signin", "me", "board", "check", "console", "error"} {
		w.tmpl[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	// Files only: a directory's listing is not served.
	w.mux.Handle("GET /static/", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(rw, r)
			return
		}
		files.ServeHTTP(rw, r)
	}))
	w.mux.HandleFunc("GET /sign-in", w.signInForm)
	w.mux.HandleFunc("POST /sign-in", w.signIn)
	w.mux.HandleFunc("POST /sign-out", w.signedIn(w.signOut))
	w.mux.HandleFunc("GET /me", w.signedIn(w.me))
	w.mux.HandleFunc("GET /me/export", w.signedIn(w.export))
	w.mux.HandleFunc("POST /me/appeals", w.signedIn(w.appeal))
	w.mux.HandleFunc("POST /me/repairs", w.signedIn(w.repair))
	w.mux.HandleFunc("GET /check", w.signedIn(w.checkForm))
	w.mux.HandleFunc("POST /check", w.signedIn(w.check))
	w.mux.HandleFunc("GET /console", w.signedIn(w.console))
	w.mux.HandleFunc("POST /console/appeals/{id}/decision", w.signedIn(w.decideAppeal))
	w.mux.HandleFunc("POST /console/repairs/{id}/decision", w.signedIn(w.decideRepair))
	w.mux.HandleFunc("POST /console/designations", w.signedIn(w.designate))
	w.mux.HandleFunc("GET /board", w.board)
	w.mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) { http.Redirect(rw, r, "/board", http.StatusSeeOther) })
	// Under the pages' paths, what no page answers is the error page's
	// 404, not the mux's bare text.
	// A form's path asked with another method is 405, as the mux would
	// answer without this.
	forms := regexp.MustCompile(`^/(me/(appeals|repairs)|console/(designations|(appeals|repairs)/[^/]+/decision))$`)
	for _, p := range []string{"/me/", "/console/"} {
		w.mux.HandleFunc(p, func(rw http.ResponseWriter, r *http.Request) {
			if forms.MatchString(r.URL.Path) {
				rw.Header().Set("Allow", http.MethodPost)
				w.render(rw, r, http.StatusMethodNotAllowed, "error", errorPage{Title: http.StatusText(http.StatusMethodNotAllowed),
					Status: http.StatusMethodNotAllowed, Message: r.URL.Path + " takes a form (POST), not " + r.Method + "."})
				return
			}
			w.fail(rw, r, socred.Errorf(socred.ENOTFOUND, "no page at %s", r.URL.Path))
		})
	}
	return w
}

// Handler returns the pages' handler, with the security headers every
// page carries.
func (w *Web) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.TLS != nil || r.Context().Value(forwardedHTTPS{}) != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		w.mux.ServeHTTP(rw, r)
	})
}

// Paths are the path patterns the pages answer, for the server's mux.
var Paths = []string{"/static/", "/sign-in", "/sign-out", "/me", "/me/", "/check", "/console", "/console/", "/board", "/{$}"}

// session is a signed-in request's session and caller.
type session struct {
	*socred.Session
	caller *socred.Caller
}

// signedIn wraps a handler for signed-in callers: without a live session
// it sends the browser to sign in; a POST must carry the session's CSRF
// token. Personal pages are never cached.
func (w *Web) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		ck, err := r.Cookie(sessionCookie.name(r))
		if err != nil {
			http.Redirect(rw, r, "/sign-in?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		sess, c, err := w.svc.SessionCaller(r.Context(), ck.Value)
		if err != nil {
			if socred.ErrorCode(err) == socred.EUNAUTHORIZED {
				http.Redirect(rw, r, "/sign-in?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
				return
			}
			w.fail(rw, r, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
			if err := formTooLarge(r); err != nil {
				w.fail(rw, r, err)
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRF)) != 1 {
				w.fail(rw, r, socred.Errorf(socred.EFORBIDDEN, "the form's anti-forgery token does not match this session; reload the page"))
				return
			}
		}
		h(rw, r, &session{Session: sess, caller: c})
	}
}

// render writes a page.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := w.tmpl[page].Execute(&buf, data); err != nil {
		w.log.ErrorContext(r.Context(), "render", "page", page, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	rw.Write(buf.Bytes()) // #nosec G104 -- the status is sent; a failed write means the client went away
}

// errorPage is the error page's data.
type errorPage struct {
	Title   string
	Status  int
	Message string
	Field   string
}

// fail renders an error: the application's errors with their status and
// message, anything else as an internal error, logged.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	var e *socred.Error
	status, msg, field := http.StatusInternalServerError, "Something went wrong on our side; it was logged.", ""
	if errors.As(err, &e) {
		status, msg, field = socred.HTTPStatus(e.Code), e.Message, e.Field
	} else {
		w.log.ErrorContext(r.Context(), "page failed", "path", r.URL.Path, "err", err)
	}
	w.render(rw, r, status, "error", errorPage{Title: http.StatusText(status), Status: status, Message: msg, Field: field})
}

// secure reports whether cookies may be marked Secure: over TLS (here, or
// at a trusted proxy: TrustProxies), or on the loopback host, which
// browsers treat as a secure context.
func secure(r *http.Request) bool {
	if r.TLS != nil || r.Context().Value(forwardedHTTPS{}) != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func setCookie(rw http.ResponseWriter, r *http.Request, c cookieName, value string, maxAge int) {
	// #nosec G124 -- Secure whenever the browser would keep it (TLS or loopback); over plain HTTP elsewhere a Secure cookie is dropped and no one could sign in
	http.SetCookie(rw, &http.Cookie{Name: c.name(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// safeNext returns a local path to go to after sign-in. It refuses a
// backslash and every control character: browsers read \ as / and drop
// tabs and line breaks from a URL, so "/\t/host" would go to //host.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.ContainsFunc(next, unsafeInNext) {
		return next
	}
	return ""
}

func unsafeInNext(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }

// formTooLarge parses a posted form, and says so when it is larger than
// the body's limit: not a form whose fields, the anti-forgery token among
// them, were cut off.
func formTooLarge(r *http.Request) error {
	var tooLarge *http.MaxBytesError
	if err := r.ParseForm(); errors.As(err, &tooLarge) {
		return socred.Errorf(socred.ETOOLARGE, "the form is larger than %d KiB: shorten the text", tooLarge.Limit>>10)
	}
	return nil
}
