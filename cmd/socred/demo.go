package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/socred/socred"
	"github.com/socred/socred/demo"
	"github.com/socred/socred/service"
)

// runDemo seeds a synthetic population and serves it: "socred demo".
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serverConfig
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	c.flags(fs, "")
	subjects := fs.Int("subjects", 10_000, "how many synthetic subjects to seed (at least 100)")
	days := fs.Int("days", 365, "how many days of history to seed, ending now")
	seed := fs.Uint64("seed", 1, "random seed: the same seed seeds the same population and history")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: socred demo [flags]

Loads the scheme pack (the built-in example pack by default), seeds a
synthetic population living through a year - subjects, relations, good deeds
and misconduct, joint liability, designations, providers' checks, appeals
decided by a review board that reads each appellant's file first - then
serves it and prints the URLs and a token for each role. The story subjects
zhang (Zhang Yingjie), li (his friend, whose loan he guarantees), wang and
acme-trading (its legal representative) are left for you to play with.

Without --db the database lives in a temporary directory removed on exit;
with --db an existing database is served as it is, without seeding (one
whose seeding was stopped part way, marked by FILE.seeding, is refused).
The address is taken before seeding begins. The admin token is
SOCRED_ADMIN_TOKEN when set, otherwise a new one.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "socred demo: takes no arguments")
		return exitUsage
	}
	if *subjects < 100 || *days < 1 {
		fmt.Fprintln(stderr, "socred demo: --subjects must be at least 100 and --days at least 1")
		return exitUsage
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred demo:", err)
		return exitUsage
	}
	if err := c.check(); err != nil {
		fmt.Fprintln(stderr, "socred demo:", err)
		return exitUsage
	}
	if c.db == "" {
		dir, err := os.MkdirTemp("", "socred-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "socred demo:", err)
			return exitFail
		}
		defer os.RemoveAll(dir)
		c.db = filepath.Join(dir, "socred.db")
	}
	p, err := c.loadPack(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "socred demo:", err)
		return exitFail
	}
	admin := os.Getenv("SOCRED_ADMIN_TOKEN")
	if admin == "" {
		admin = newSecret()
	}
	end := time.Now().UTC()
	clock := demo.NewClock(end.AddDate(0, 0, -*days))
	c.now = clock.Now
	// A marker beside a database file says its seeding has begun and not
	// finished: a demo stopped while seeding leaves a history cut short,
	// which is not served as if it were whole.
	marker := ""
	if !isPostgres(c.db) {
		marker = c.db + ".seeding"
		if _, err := os.Stat(marker); err == nil {
			fmt.Fprintf(stderr, "socred demo: the seeding of %s was cut short (%s is there): remove %s, the files beside it named %s-* and %s, or give another --db\n",
				c.db, marker, c.db, filepath.Base(c.db), marker)
			return exitFail
		}
	}
	// The address is taken before the database is opened and seeded, so
	// that a port in use fails at once, leaving no database behind, rather
	// than after minutes of seeding.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		fmt.Fprintln(stderr, "socred demo:", err)
		return exitFail
	}
	srv, err := openServer(ctx, &c, log, p, admin)
	if err != nil {
		fmt.Fprintln(stderr, "socred demo:", errors.Join(err, ln.Close()))
		return exitFail
	}
	srv.ln = ln
	if n := srv.svc.Population(); n > 0 {
		clock.Real()
		fmt.Fprintf(stdout, "socred demo: %s holds %d subjects; serving it without seeding\n", c.db, n)
	} else {
		if marker != "" {
			if err := os.WriteFile(marker, []byte("socred demo: seeding began "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
				fmt.Fprintln(stderr, "socred demo:", err)
				return exitFail
			}
		}
		start := time.Now()
		progress := newProgress(stderr, *days)
		stats, err := demo.Seed(ctx, srv.svc, clock, demo.Options{
			Subjects: *subjects, Days: *days, End: end, Seed: *seed,
			RecordsPerSubject: 8, ChecksPerDay: max(20, *subjects/250), Progress: progress,
		})
		clock.Real()
		if err != nil {
			fmt.Fprintln(stderr, "\nsocred demo: seeding:", err)
			return exitFail
		}
		if marker != "" {
			if err := os.Remove(marker); err != nil {
				fmt.Fprintln(stderr, "socred demo:", err)
				return exitFail
			}
		}
		fmt.Fprintf(stdout, "socred demo: seeded %d subjects, %d relations, %d records (+%d by joint liability), %d designations, %d checks (%d denied), %d appeals (%d overturned) and %d reads of files over %d days in %s\n",
			stats.Subjects, stats.Relations, stats.Records, stats.Derived, stats.Designations, stats.Checks, stats.Denied, stats.Appeals, stats.Overturned, stats.Reads, *days, time.Since(start).Round(100*time.Millisecond))
	}
	tokens, err := demoTokens(ctx, srv.svc, admin)
	if err != nil {
		fmt.Fprintln(stderr, "socred demo: tokens:", err)
		return exitFail
	}
	u := srv.URL()
	fmt.Fprintf(stdout, `
socred is serving %s (database %s)

  pages           %s/me  your file (subject token)
                  %s/console  console (authority, reviewer or admin token)
                  %s/check  a provider's check (provider token)
                  %s/board  the public board (no token needed)
  API             %s/v1/schemes        (the loaded scheme pack; OpenAPI in docs/openapi.yaml)
  public register %s/v1/register       (no token needed)
  health          %s/healthz
  metrics         %s/metrics           (admin or auditor token)
  audit log       %s/v1/audit/checkpoint (signed; proofs at /v1/audit/proof/{log_index})

Tokens, one per role (send as "Authorization: Bearer TOKEN"):
`, u, c.db, u, u, u, u, u, u, u, u, u)
	for _, t := range tokens {
		fmt.Fprintf(stdout, "  %-10s %s  %s\n", t.role, t.token, t.note)
	}
	fmt.Fprintf(stdout, `
Try it:
  export SOCRED=%s PROVIDER=%s AUTHORITY=%s
  curl -s -H "Authorization: Bearer $PROVIDER" -H 'Content-Type: application/json' \
    -d '{"subject": "zhang", "action": "ride-high-speed-train", "purpose": "ticket G1234"}' $SOCRED/v1/checks

Press Ctrl-C to stop.
`, u, tokens[2].token, tokens[1].token)
	if err := srv.serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return exitFail
	}
	return exitOK
}

type demoToken struct{ role, token, note string }

// demoTokens creates one token per role.
func demoTokens(ctx context.Context, svc *service.Service, admin string) ([]demoToken, error) {
	caller, err := svc.Authenticate(ctx, admin)
	if err != nil {
		return nil, err
	}
	authority := demo.Registrar(svc.Pack())
	judge := authority
	for _, l := range svc.Pack().Lists {
		if l.Designated {
			judge = l.Authority
			break
		}
	}
	specs := []struct {
		in   service.TokenInput
		note string
	}{
		{service.TokenInput{Role: socred.RoleAuthority, Authority: authority, Name: "Rongcheng credit office clerk"}, "reports records for " + authority + " and registered the subjects"},
		{service.TokenInput{Role: socred.RoleProvider, Name: "China Railway 12306 booking"}, "checks any action"},
		{service.TokenInput{Role: socred.RoleAuthority, Authority: judge, Name: "court enforcement clerk"}, "designates on " + judge + "'s lists"},
		{service.TokenInput{Role: socred.RoleReviewer, Name: "review board member"}, "reads files (each read is logged in the file)"},
		{service.TokenInput{Role: socred.RoleSubject, Subject: demo.Zhang, Name: "Zhang Yingjie"}, "reads zhang's own file"},
		{service.TokenInput{Role: socred.RoleAuditor, Name: "outside auditor"}, "metrics and list entries"},
	}
	out := []demoToken{{"admin", admin, "everything"}}
	for _, s := range specs {
		t, err := svc.CreateToken(ctx, caller, s.in)
		if err != nil {
			return nil, err
		}
		out = append(out, demoToken{string(s.in.Role), t.Token, s.note})
	}
	return out, nil
}

// newProgress returns a progress reporter: a bar on a terminal, a line per
// tenth otherwise.
func newProgress(w io.Writer, days int) func(day, days int) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(days,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(fmt.Sprintf("seeding %d days of history", days)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
		return func(day, _ int) { _ = bar.Set(day) }
	}
	return func(day, days int) {
		if day%max(1, days/10) == 0 || day == days {
			fmt.Fprintf(w, "seeding: day %d of %d\n", day, days)
		}
	}
}

func newSecret() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "sct_" + base64.RawURLEncoding.EncodeToString(b[:])
}
