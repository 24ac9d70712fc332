package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/socred/socred/audit"
	"github.com/socred/socred/service"
)

// runAudit runs socred audit SUBCOMMAND.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, auditUsage)
			return exitOK
		}
		if len(args) > 0 {
			fmt.Fprintf(stderr, "socred audit: unknown subcommand %q\n", args[0])
		}
		fmt.Fprint(stderr, auditUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	db := fs.String("db", "", "verify the log kept in this database (SQLite file or postgres:// URL): recompute it from the stored entries")
	u := fs.String("url", "", "verify that the log a server publishes only grew since the checkpoint in --checkpoint")
	cpFile := fs.String("checkpoint", "", "a checkpoint saved earlier from GET /v1/audit/checkpoint (with --url)")
	key := fs.String("key", "", "the log's verifier key (with --url; default: the server's GET /v1/audit/key, which must open the saved checkpoint)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	switch {
	case *db != "" && *u == "":
		return verifyDB(ctx, *db, stdout, stderr)
	case *u != "" && *db == "" && *cpFile != "":
		return verifyURL(ctx, *u, *cpFile, *key, stdout, stderr)
	}
	fmt.Fprintln(stderr, "socred audit verify: give --db, or --url with --checkpoint")
	return exitUsage
}

const auditUsage = `usage: socred audit verify --db DB
       socred audit verify --url URL --checkpoint FILE [--key KEY]

With --db, recomputes the audit log kept in the database from its stored
entries and checks the tree's stored hashes, the log's size, every kept
checkpoint, every record and check against the entry its receipt names, and
every designation, appeal and repair application against its last entry.
With --url, checks that the server's log only grew since a checkpoint saved
earlier (a consistency proof), as an outside auditor does.
`

func verifyDB(ctx context.Context, db string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Verifying a database that is not there would make an empty one and
	// verify that.
	if !isPostgres(db) {
		if _, err := os.Stat(db); err != nil {
			fmt.Fprintf(stderr, "socred audit verify: %v\n", err)
			return exitFail
		}
	}
	st, err := openStore(ctx, db, log, false)
	if err != nil {
		fmt.Fprintf(stderr, "socred audit verify: open %s: %v\n", displayDB(db), err)
		return exitFail
	}
	defer st.Close()
	start := time.Now()
	rep, err := service.VerifyLog(ctx, st)
	if err != nil {
		fmt.Fprintf(stderr, "socred audit verify: FAILED after %d entries: %v\n", rep.Entries, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "audit log verified: %d entries in %d blocks, %d checkpoints, %d records, %d purged records, %d checks, %d reads of files and %d designations, appeals and repair applications hashed again in %s\n",
		rep.Entries, rep.Blocks, rep.Checkpoints, rep.Records, rep.Purged, rep.Checks, rep.Accesses, rep.Decisions, time.Since(start).Round(time.Millisecond))
	if rep.Expired > 0 {
		fmt.Fprintf(stdout, "%d entries of checks and reads of files name rows deleted at the end of their retention, as the log's expiry entries say\n", rep.Expired)
	}
	if rep.Later > 0 {
		fmt.Fprintf(stdout, "%d rows logged after the log was read (a server is writing) were not checked; the next verify checks them\n", rep.Later)
	}
	return exitOK
}

func verifyURL(ctx context.Context, base, cpFile, key string, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "socred audit verify: "+format+"\n", args...)
		return exitFail
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "socred audit verify: --url: want an http:// or https:// URL, not %q\n", base)
		return exitUsage
	}
	base = strings.TrimSuffix(base, "/")
	saved, err := os.ReadFile(cpFile) // #nosec G304 -- the --checkpoint file the operator names
	if err != nil {
		return fail("--checkpoint: %v", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if key == "" {
		k, err := get(ctx, client, base+"/v1/audit/key")
		if err != nil {
			return fail("%v", err)
		}
		key = strings.TrimSpace(string(k))
	}
	old, err := audit.Open(saved, key)
	if err != nil {
		return fail("the saved checkpoint does not open with the log's key: %v", err)
	}
	body, err := get(ctx, client, base+"/v1/audit/checkpoint")
	if err != nil {
		return fail("%v", err)
	}
	cur, err := audit.Open(body, key)
	if err != nil {
		return fail("the server's checkpoint: %v", err)
	}
	switch {
	case cur.N < old.N:
		return fail("the log shrank: %d entries at the saved checkpoint, %d now", old.N, cur.N)
	case cur.N == old.N:
		if cur.Hash != old.Hash {
			return fail("the log was rewritten: %d entries, root %v saved, %v now", cur.N, old.Hash, cur.Hash)
		}
	case old.N > 0:
		body, err := get(ctx, client, fmt.Sprintf("%s/v1/audit/consistency?from=%d&to=%d", base, old.N, cur.N))
		if err != nil {
			return fail("%v", err)
		}
		var c service.Consistency
		if err := json.Unmarshal(body, &c); err != nil {
			return fail("consistency proof: %v", err)
		}
		if err := audit.CheckConsistency(c.Proof, old, cur); err != nil {
			return fail("the log was rewritten since the saved checkpoint: %v", err)
		}
	}
	fmt.Fprintf(stdout, "audit log only grew: %d entries at the saved checkpoint, %d now (root %v)\n", old.N, cur.N, cur.Hash)
	return exitOK
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("GET " + u + ": " + resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	return body, nil
}
