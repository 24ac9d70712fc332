package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/api"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	"github.com/socred/socred/web"
)

// timeouts bound how long a client may take.
type timeouts struct{ header, read, write, idle time.Duration }

// defaultTimeouts are the flags' defaults.
var defaultTimeouts = timeouts{header: 10 * time.Second, read: 60 * time.Second, write: 60 * time.Second, idle: 120 * time.Second}

// serverConfig is what serve and demo share.
type serverConfig struct {
	addr      string
	db        string
	schemes   string
	logLevel  string
	logFormat string
	webhook   string
	smtp      string
	smtpFrom  string
	auditKey  string
	// retainChecks is how long checks and reads of files are kept.
	retainChecks socred.Duration
	// trustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	trustedProxies string
	// timeouts bound how long a client may take: to send the request's
	// header, the whole request, to take the answer, and idle between
	// requests on a kept-alive connection.
	timeouts timeouts
	// allowUnsafeDurability lets the server start on a database that
	// could lose acknowledged writes in a crash (serve's flag).
	allowUnsafeDurability bool
	// packWarnings are the linter's warnings on the pack loaded.
	packWarnings []string
	// now, when set, replaces the service's clock (the demo's simulated
	// year).
	now func() time.Time
}

func (c *serverConfig) flags(fs *flag.FlagSet, defaultDB string) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	fs.StringVar(&c.db, "db", defaultDB, "SQLite database file, or a PostgreSQL URL (postgres://user:password@host:port/database)")
	fs.StringVar(&c.schemes, "schemes", "", "scheme pack directory (default: the example pack built into the binary)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (debug logs every request)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.webhook, "webhook", "", "deliver every notice to subjects as a JSON POST to this URL (at least once, with an Idempotency-Key header)")
	fs.StringVar(&c.smtp, "smtp", "", "SMTP server (host:port) to e-mail every notice to subjects who gave an address")
	fs.StringVar(&c.smtpFrom, "smtp-from", "notices@socred.invalid", "sender address of notice e-mails")
	fs.DurationVar(&c.timeouts.header, "header-timeout", defaultTimeouts.header, "how long a client may take to send a request's header")
	fs.DurationVar(&c.timeouts.read, "read-timeout", defaultTimeouts.read, "how long a client may take to send a whole request")
	fs.DurationVar(&c.timeouts.write, "write-timeout", defaultTimeouts.write, "how long a client may take to receive an answer")
	fs.DurationVar(&c.timeouts.idle, "idle-timeout", defaultTimeouts.idle, "how long a kept-alive connection may stay idle")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For (the client, for the limit on failed sign-ins) and X-Forwarded-Proto: https (cookies marked Secure) are believed; default none")
	fs.TextVar(&c.retainChecks, "retain-checks", service.DefaultCheckRetention, "how long checks and reads of subjects' files are kept before they are deleted: a `duration`, a number and a unit (h, d, w, mo, y) such as 18mo")
	fs.StringVar(&c.auditKey, "audit-key", "", "file holding the signed-note Ed25519 signer key of the audit log's checkpoints (default: the key made at the first start, kept in the database)")
}

func (c *serverConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, not %q", c.logFormat)
}

// loadPack reads the pack directory, or the built-in example pack; a pack
// with errors is refused with every problem printed.
func (c *serverConfig) loadPack(stderr io.Writer) (*socred.Pack, error) {
	var (
		p     *socred.Pack
		probs pack.Problems
		err   error
	)
	if c.schemes == "" {
		p, probs, err = pack.Load(packs.Example)
	} else {
		p, probs, err = pack.LoadDir(c.schemes)
	}
	if err != nil {
		return nil, err
	}
	for _, pr := range probs {
		fmt.Fprintln(stderr, pr)
		c.packWarnings = append(c.packWarnings, pr.String())
	}
	if p == nil {
		return nil, fmt.Errorf("scheme pack refused: %s", probs.Summary())
	}
	return p, nil
}

// check refuses flag values that cannot work, before anything is opened:
// a usage error.
func (c *serverConfig) check() error {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("--addr: want host:port (such as 127.0.0.1:8080 or :8080), not %q", c.addr)
	}
	if _, err := web.ParsePrefixes(c.trustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.webhook != "" {
		if u, err := url.Parse(c.webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--webhook: want an http:// or https:// URL, not %q", c.webhook)
		}
	}
	if c.smtp != "" {
		if _, _, err := net.SplitHostPort(c.smtp); err != nil {
			return fmt.Errorf("--smtp: want host:port, not %q", c.smtp)
		}
		if a, err := mail.ParseAddress(c.smtpFrom); err != nil || a.Address != c.smtpFrom {
			return fmt.Errorf("--smtp-from: want a bare e-mail address, not %q", c.smtpFrom)
		}
	}
	if !c.retainChecks.IsZero() && c.retainChecks.N <= 0 {
		return fmt.Errorf("--retain-checks: want a length of time such as 2y, not %s", c.retainChecks)
	}
	for _, t := range []struct {
		flag string
		d    time.Duration
	}{{"--read-timeout", c.timeouts.read}, {"--write-timeout", c.timeouts.write}, {"--idle-timeout", c.timeouts.idle}, {"--header-timeout", c.timeouts.header}} {
		if t.d < 0 {
			return fmt.Errorf("%s: must not be negative, not %s", t.flag, t.d)
		}
	}
	return nil
}

// server is a running socred: store, service and HTTP server.
type server struct {
	log   *slog.Logger
	store socred.Store
	svc   *service.Service
	http  *http.Server
	ln    net.Listener
}

// openServer opens the store, loads the world and starts the service; it
// does not listen yet. adminToken may be empty (no admin).
func openServer(ctx context.Context, c *serverConfig, log *slog.Logger, p *socred.Pack, adminToken string) (*server, error) {
	start := time.Now()
	proxies, err := web.ParsePrefixes(c.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	tuneGC(log)
	store, err := openStore(ctx, c.db, log, c.allowUnsafeDurability)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", displayDB(c.db), err)
	}
	// closeStore closes the store when the server does not start.
	closeStore := func() {
		if err := store.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}
	svc, err := service.New(store, p)
	if err != nil {
		closeStore()
		return nil, err
	}
	svc.AdminToken = adminToken
	svc.CheckRetention = c.retainChecks // zero: the default
	if c.auditKey != "" {
		k, err := os.ReadFile(c.auditKey)
		if err != nil {
			closeStore()
			return nil, fmt.Errorf("--audit-key: %w", err)
		}
		svc.AuditSigner = strings.TrimSpace(string(k))
	}
	svc.Logger = log.With("component", "service")
	if c.now != nil {
		svc.Now = c.now
	}
	if c.webhook != "" {
		u, err := url.Parse(c.webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			closeStore()
			return nil, fmt.Errorf("--webhook: want an http:// or https:// URL, not %q", c.webhook)
		}
		svc.Channels = append(svc.Channels, &service.Webhook{URL: c.webhook})
	}
	if c.smtp != "" {
		if _, _, err := net.SplitHostPort(c.smtp); err != nil {
			closeStore()
			return nil, fmt.Errorf("--smtp: want host:port, not %q", c.smtp)
		}
		if a, err := mail.ParseAddress(c.smtpFrom); err != nil || a.Address != c.smtpFrom {
			closeStore()
			return nil, fmt.Errorf("--smtp-from: want a bare e-mail address, not %q", c.smtpFrom)
		}
		svc.Channels = append(svc.Channels, &service.Mailer{Addr: c.smtp, From: c.smtpFrom, Store: store})
	}
	if err := svc.Open(ctx); err != nil {
		closeStore()
		return nil, err
	}
	log.Info("store open", "db", displayDB(c.db), "pack", p.Hash[:12], "schemes", len(p.Schemes), "lists", len(p.Lists), "took", time.Since(start).Round(time.Millisecond))
	a := api.New(svc, api.Config{Logger: log.With("component", "api")})
	pages := web.New(svc, web.Config{Logger: log.With("component", "web"), PackWarnings: c.packWarnings})
	// The pages answer their own paths; the API everything else, with its
	// JSON 404 for what neither knows.
	mux := http.NewServeMux()
	apiHandler := a.Handler()
	mux.Handle("/", apiHandler)
	for _, p := range web.Paths {
		mux.Handle(p, pages.Handler())
	}
	// The API's own paths go to it without this mux's lookup (the API's
	// mux looks them up again): no page lives under /v1/.
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/v1/") && path.Clean(p) == p {
			apiHandler.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})

	return &server{
		log:   log,
		store: store,
		svc:   svc,
		http: &http.Server{
			Handler:           web.TrustProxies(root, proxies),
			ReadHeaderTimeout: c.timeouts.header,
			ReadTimeout:       c.timeouts.read,
			WriteTimeout:      c.timeouts.write,
			IdleTimeout:       c.timeouts.idle,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// listen binds the address; Addr then reports the bound address.
func (s *server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// URL is the server's base URL.
func (s *server) URL() string { return "http://" + s.ln.Addr().String() }

// serve answers requests until ctx ends, then shuts down cleanly.
func (s *server) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	s.log.Info("listening", "url", s.URL())
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = errors.Join(ignoreClosed(err), s.http.Shutdown(sctx), s.svc.Close(sctx), s.store.Close())
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// runServe runs the server: "socred serve".
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serverConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.flags(fs, "socred.db")
	fs.BoolVar(&c.allowUnsafeDurability, "allow-unsafe-durability", false,
		"start even when the database may lose acknowledged writes in a crash (SQLite not in WAL mode with synchronous=FULL, PostgreSQL with fsync or synchronous_commit off), which is otherwise refused")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: socred serve [flags]

Runs socred's HTTP API on an embedded SQLite database, or on PostgreSQL when
--db is a postgres:// URL. The admin token is read from the environment
variable SOCRED_ADMIN_TOKEN; without it no one is admin. Logs go to stderr.
SIGINT or SIGTERM stops the server cleanly.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "socred serve: takes no arguments")
		return exitUsage
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred serve:", err)
		return exitUsage
	}
	if err := c.check(); err != nil {
		fmt.Fprintln(stderr, "socred serve:", err)
		return exitUsage
	}
	p, err := c.loadPack(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred serve:", err)
		return exitFail
	}
	admin := os.Getenv("SOCRED_ADMIN_TOKEN")
	switch {
	case admin == "":
		log.Warn("SOCRED_ADMIN_TOKEN is not set: no one can act as admin or create tokens")
	case len(admin) < 16:
		// Failed sign-ins are rate limited, but the admin's is the key to
		// everything: a short one is guessed sooner.
		log.Warn("SOCRED_ADMIN_TOKEN is short: use at least 16 random characters (socred makes tokens of 43)", "length", len(admin))
	}
	// The address is bound before the database is opened: a port in use
	// fails at once, and makes no database. Requests wait in the
	// listener's queue until the world is loaded.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		fmt.Fprintln(stderr, "socred serve:", err)
		return exitFail
	}
	srv, err := openServer(ctx, &c, log, p, admin)
	if err != nil {
		fmt.Fprintln(stderr, "socred serve:", errors.Join(err, ln.Close()))
		return exitFail
	}
	srv.ln = ln
	if err := srv.serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return exitFail
	}
	return exitOK
}
