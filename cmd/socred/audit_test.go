package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sqlite3 "zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	domain "github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// auditStory fills a server's log: subjects, a relation, records with
// joint liability, checks, a designation and its removal, with a
// checkpoint saved in the middle. It returns the saved checkpoint's file.
func auditStory(t *testing.T, s *server) string {
	t.Helper()
	now := time.Now().UTC()
	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "clerk"})
	court := s.token(map[string]any{"role": "authority", "authority": "spc", "name": "court clerk"})
	railway := s.token(map[string]any{"role": "provider", "name": "12306"})
	for i := range 12 {
		id := fmt.Sprintf("p%d", i)
		s.must(201, "PUT", "/v1/subjects/"+id, city, map[string]any{"kind": "person", "name": "Person " + id, "region": "rongcheng"})
	}
	s.must(201, "PUT", "/v1/relations", city, map[string]any{"from": "p1", "type": "guarantor-of", "to": "p0"})
	var recs []map[string]any
	for i := range 30 {
		recs = append(recs, rec(fmt.Sprintf("k%d", i), fmt.Sprintf("p%d", i%12), "rongcheng", []string{"loan-default", "blood-donation", "littering"}[i%3], now.Add(-time.Duration(i+1)*time.Hour)))
	}
	first := s.must(200, "POST", "/v1/records", city, batch(recs[:15]...)).json(t)["records"].([]any)[0].(map[string]any)["id"].(string)
	cp := filepath.Join(t.TempDir(), "checkpoint")
	if err := os.WriteFile(cp, s.must(200, "GET", "/v1/audit/checkpoint", "", nil).body, 0o600); err != nil {
		t.Fatal(err)
	}
	// A record that stopped counting long ago: its evidence is purged
	// retain_for later.
	recs = append(recs, rec("old", "p3", "rongcheng", "littering", now.AddDate(-5, 0, 0)))
	s.must(200, "POST", "/v1/records", city, batch(recs[15:]...))
	for i := range 10 {
		s.must(200, "POST", "/v1/checks", railway, map[string]any{"subject": fmt.Sprintf("p%d", i), "action": "ride-high-speed-train"})
	}
	s.must(201, "POST", "/v1/lists/judgment-defaulters/entries", court, map[string]any{"subject": "p5", "reason": "unpaid judgment", "case": "(2026) 1"})
	p5 := s.token(map[string]any{"role": "subject", "subject": "p5", "name": "p5"})
	reviewer := s.token(map[string]any{"role": "reviewer", "name": "review board"})
	appeal := s.must(201, "POST", "/v1/appeals", p5, map[string]any{"list": "judgment-defaulters", "statement": "paid already"}).json(t)["id"].(string)
	s.must(200, "POST", "/v1/appeals/"+appeal+"/decision", reviewer, map[string]any{"decision": "upheld", "reasons": "no receipt"})
	s.must(200, "DELETE", "/v1/lists/judgment-defaulters/entries/p5", court, map[string]any{"reason": "paid"})
	// p0's loan default (and p1's joint liability with it) overturned.
	p0 := s.token(map[string]any{"role": "subject", "subject": "p0", "name": "p0"})
	appeal = s.must(201, "POST", "/v1/appeals", p0, map[string]any{"record": first, "statement": "repaid before the date"}).json(t)["id"].(string)
	s.must(200, "POST", "/v1/appeals/"+appeal+"/decision", reviewer, map[string]any{"decision": "overturned", "reasons": "the bank's receipt"})
	// Files read by others: each read is logged.
	s.must(200, "GET", "/v1/subjects/p0/file?purpose=appeal+review", reviewer, nil)
	s.must(200, "GET", "/v1/subjects/p5/file?purpose=enforcement", court, nil)
	s.must(200, "GET", "/v1/audit/checkpoint", "", nil)
	return cp
}

// TestAuditVerify: a server's log verifies from the database and, against
// a checkpoint saved earlier, over HTTP; a purge keeps it verifiable; and
// 1,000 random single-byte flips, deletions, reorderings and truncations
// of the stored entries, hashes, records and checks are each detected.
func TestAuditVerify(t *testing.T) {
	db := filepath.Join(t.TempDir(), "socred.db")
	s := startServer(t, db)
	cp := auditStory(t, s)

	out, errOut, code := socred(t, "audit", "verify", "--url", s.url, "--checkpoint", cp)
	if code != 0 || !strings.Contains(out, "audit log only grew") {
		t.Fatalf("verify --url: exit %d\n%s%s", code, out, errOut)
	}
	// A database that is not there is an error, not an empty log verified
	// (nor made).
	missing := filepath.Join(t.TempDir(), "typo.db")
	if out, errOut, code := socred(t, "audit", "verify", "--db", missing); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("verify --db of a missing file: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("verify --db made %s", missing)
	}
	// A checkpoint of another log (another key) is refused.
	skey, vkey, _ := audit.NewKey(service.AuditName)
	forged, _ := audit.Sign(audit.Tree{N: 3}, skey)
	forgedFile := filepath.Join(t.TempDir(), "forged")
	os.WriteFile(forgedFile, forged, 0o600)
	if out, errOut, code := socred(t, "audit", "verify", "--url", s.url, "--checkpoint", forgedFile); code != 1 {
		t.Errorf("forged checkpoint: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := socred(t, "audit", "verify", "--url", s.url, "--checkpoint", forgedFile, "--key", vkey); code != 1 || !strings.Contains(errOut, "server's checkpoint") {
		t.Errorf("the server's checkpoint with another key: exit %d\n%s%s", code, out, errOut)
	}
	s.stop()

	out, errOut, code = socred(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(out, "audit log verified") {
		t.Fatalf("verify --db: exit %d\n%s%s", code, out, errOut)
	}
	t.Log(strings.TrimSpace(out))

	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	raw, err := sqlite3.OpenConn(db, sqlite3.OpenReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetBusyTimeout(10 * time.Second)
	if err := sqlitex.ExecuteTransient(raw, "PRAGMA synchronous = OFF", nil); err != nil {
		t.Fatal(err)
	}
	tamperLoop(t, 1000, &sqliteTamperer{conn: raw}, func() error { _, err := service.VerifyLog(ctx, st); return err })

	// A record's standing changed behind the log's back: the overturned
	// one made to count again, another overturned without a decision.
	for _, tc := range []struct{ name, change, undo, want string }{
		{"an overturn undone", "UPDATE records SET overturned_at = NULL WHERE overturned_at IS NOT NULL",
			"UPDATE records SET overturned_at = 1 WHERE id IN (SELECT CAST(ref AS INTEGER) FROM tamper_refs)", "stored as neither overturned nor suspended, but the log's last decision"},
		{"a record overturned without a decision", "UPDATE records SET overturned_at = 1 WHERE id = (SELECT MAX(id) FROM records WHERE overturned_at IS NULL)",
			"", "but the log holds no decision on it"},
	} {
		sqlitex.ExecuteTransient(raw, "CREATE TEMP TABLE IF NOT EXISTS tamper_refs (ref TEXT)", nil)
		sqlitex.ExecuteTransient(raw, "DELETE FROM tamper_refs", nil)
		sqlitex.ExecuteTransient(raw, "INSERT INTO tamper_refs SELECT id FROM records WHERE overturned_at IS NOT NULL", nil)
		var changed []int64
		sqlitex.ExecuteTransient(raw, "SELECT id FROM records WHERE overturned_at IS NULL", &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite3.Stmt) error {
			changed = append(changed, stmt.ColumnInt64(0))
			return nil
		}})
		if err := sqlitex.ExecuteTransient(raw, tc.change, nil); err != nil {
			t.Fatal(err)
		}
		_, err := service.VerifyLog(ctx, st)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: verify said %v, want %q", tc.name, err, tc.want)
		}
		undo := tc.undo
		if undo == "" {
			undo = fmt.Sprintf("UPDATE records SET overturned_at = NULL WHERE id = %d", slices.Max(changed))
		}
		if err := sqlitex.ExecuteTransient(raw, undo, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := service.VerifyLog(ctx, st); err != nil {
			t.Fatalf("%s, undone: %v", tc.name, err)
		}
	}

	// The old record's evidence was purged at the server's start, and the
	// purge logged: the record as it stands since is checked against it.
	rep, err := service.VerifyLog(ctx, st)
	if err != nil || rep.Purged != 1 {
		t.Fatalf("the purged record: %+v, %v", rep, err)
	}
	for _, tc := range []struct{ name, change, undo, want string }{
		{"a purged record's points changed", "UPDATE records SET points = points + 1 WHERE purged_at IS NOT NULL",
			"UPDATE records SET points = points - 1 WHERE purged_at IS NOT NULL", "differs from the event entry"},
		{"a purge's moment changed", "UPDATE records SET purged_at = purged_at + 1000000 WHERE purged_at IS NOT NULL",
			"UPDATE records SET purged_at = purged_at - 1000000 WHERE purged_at IS NOT NULL", "differs from the event entry"},
		{"a purge's receipt pointed at another entry", "UPDATE records SET purge_log_index = purge_log_index - 1 WHERE purged_at IS NOT NULL",
			"UPDATE records SET purge_log_index = purge_log_index + 1 WHERE purged_at IS NOT NULL", "the purge of record"},
		{"a purged record's subject changed", "UPDATE records SET subject = 'p4' WHERE purged_at IS NOT NULL",
			"UPDATE records SET subject = 'p3' WHERE purged_at IS NOT NULL", "differs from the event entry"},
		{"a purge undone", "UPDATE records SET purged_at = NULL, purge_log_index = NULL WHERE purged_at IS NOT NULL",
			"", "differs from the event entry"},
		{"a purge's receipt removed", "UPDATE records SET purge_log_index = NULL WHERE purged_at IS NOT NULL", "", "no entry of its purge"},
	} {
		var undo string
		sqlitex.ExecuteTransient(raw, "SELECT purged_at, purge_log_index FROM records WHERE purged_at IS NOT NULL", &sqlitex.ExecOptions{ResultFunc: func(stmt *sqlite3.Stmt) error {
			undo = fmt.Sprintf("UPDATE records SET purged_at = %d, purge_log_index = %d WHERE evidence = '' AND key = 'old'", stmt.ColumnInt64(0), stmt.ColumnInt64(1))
			return nil
		}})
		if tc.undo != "" {
			undo = tc.undo
		}
		if err := sqlitex.ExecuteTransient(raw, tc.change, nil); err != nil {
			t.Fatal(err)
		}
		_, err := service.VerifyLog(ctx, st)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: verify said %v, want %q", tc.name, err, tc.want)
		}
		if err := sqlitex.ExecuteTransient(raw, undo, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := service.VerifyLog(ctx, st); err != nil {
			t.Fatalf("%s, undone: %v", tc.name, err)
		}
	}
	// A record purged as a server did before purges were logged: verify
	// wants an entry of its purge, which the server logs when it starts.
	if err := sqlitex.ExecuteTransient(raw, "UPDATE records SET evidence = '', purged_at = 1 WHERE key = 'k5'", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := service.VerifyLog(ctx, st); err == nil || !strings.Contains(err.Error(), "no entry of its purge") {
		t.Fatalf("a record purged without an entry: verify said %v", err)
	}
	st.Close()
	restarted := startServer(t, db)
	restarted.stop()
	if st, err = sqlite.Open(ctx, db); err != nil {
		t.Fatal(err)
	}
	if rep, err = service.VerifyLog(ctx, st); err != nil || rep.Purged != 2 {
		t.Fatalf("after the server logged the purge: %+v, %v", rep, err)
	}
	t.Logf("after the purges: %+v", rep)
}

// tamperer changes a store's audit data in one way and undoes it.
type tamperer interface {
	blocks(t *testing.T) []domain.AuditBlock
	setBlock(t *testing.T, first int64, leaves, hashes []byte)
	deleteBlock(t *testing.T, first int64)
	insertBlock(t *testing.T, b domain.AuditBlock)
	// exec runs a statement that changes a row the log stands for (a
	// record, a check, a designation, an appeal), or undoes it.
	exec(t *testing.T, sql string, args ...any)
}

func tamperLoop(t *testing.T, n int, tm tamperer, verify func() error) {
	t.Helper()
	if err := verify(); err != nil {
		t.Fatalf("before tampering: %v", err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	blocks := tm.blocks(t)
	if len(blocks) < 4 {
		t.Fatalf("%d blocks, want several", len(blocks))
	}
	flip := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		return c
	}
	detected := map[string]int{}
	var withHashes []domain.AuditBlock // blocks that keep tree hashes
	for _, b := range blocks {
		if len(b.Hashes) > 0 {
			withHashes = append(withHashes, b)
		}
	}
	if len(withHashes) == 0 {
		t.Fatal("no block keeps a tree hash")
	}
	for k := range n {
		b := blocks[rng.IntN(len(blocks))]
		if k%11 == 1 || k%11 == 5 {
			b = withHashes[rng.IntN(len(withHashes))]
		}
		var what string
		var undo func()
		switch k % 11 {
		case 0:
			what = "a byte of the leaves flipped"
			tm.setBlock(t, b.First, flip(b.Leaves), b.Hashes)
			undo = func() { tm.setBlock(t, b.First, b.Leaves, b.Hashes) }
		case 1:
			what = "a byte of the tree hashes flipped"
			tm.setBlock(t, b.First, b.Leaves, flip(b.Hashes))
			undo = func() { tm.setBlock(t, b.First, b.Leaves, b.Hashes) }
		case 2:
			what = "a block deleted"
			tm.deleteBlock(t, b.First)
			undo = func() { tm.insertBlock(t, b) }
		case 3:
			what = "two blocks swapped"
			i := rng.IntN(len(blocks) - 1)
			x, y := blocks[i], blocks[i+1+rng.IntN(len(blocks)-i-1)]
			tm.setBlock(t, x.First, y.Leaves, y.Hashes)
			tm.setBlock(t, y.First, x.Leaves, x.Hashes)
			undo = func() { tm.setBlock(t, x.First, x.Leaves, x.Hashes); tm.setBlock(t, y.First, y.Leaves, y.Hashes) }
		case 4:
			what = "the log truncated"
			i := rng.IntN(len(blocks))
			for _, d := range blocks[i:] {
				tm.deleteBlock(t, d.First)
			}
			undo = func() {
				for _, d := range blocks[i:] {
					tm.insertBlock(t, d)
				}
			}
		case 5:
			what = "a block's bytes truncated"
			cut := 1 + rng.IntN(len(b.Leaves)-1)
			if rng.IntN(2) == 0 {
				tm.setBlock(t, b.First, b.Leaves[:cut], b.Hashes)
			} else {
				tm.setBlock(t, b.First, b.Leaves, b.Hashes[:rng.IntN(len(b.Hashes))])
			}
			undo = func() { tm.setBlock(t, b.First, b.Leaves, b.Hashes) }
		case 6:
			what = "a record's points changed"
			tm.exec(t, "UPDATE records SET points = points + 1 WHERE log_index = (SELECT MIN(log_index) FROM records)")
			undo = func() {
				tm.exec(t, "UPDATE records SET points = points - 1 WHERE log_index = (SELECT MIN(log_index) FROM records)")
			}
		case 7:
			what = "a check's answer changed"
			tm.exec(t, "UPDATE checks SET allowed = NOT allowed WHERE log_index = (SELECT MAX(log_index) FROM checks)")
			undo = func() {
				tm.exec(t, "UPDATE checks SET allowed = NOT allowed WHERE log_index = (SELECT MAX(log_index) FROM checks)")
			}
		case 8:
			what = "a designation's reason changed"
			tm.exec(t, "UPDATE designations SET reason = 'x' || reason")
			undo = func() { tm.exec(t, "UPDATE designations SET reason = substr(reason, 2)") }
		case 9:
			what = "an appeal's decision changed"
			flipStatus := "UPDATE appeals SET status = CASE status WHEN 'upheld' THEN 'overturned' ELSE 'upheld' END WHERE status <> 'open'"
			tm.exec(t, flipStatus)
			undo = func() { tm.exec(t, flipStatus) }
		case 10:
			last := "log_index = (SELECT MAX(log_index) FROM accesses)"
			if k%2 == 0 {
				what = "a read of a file disguised"
				tm.exec(t, "UPDATE accesses SET purpose = 'x' || purpose WHERE "+last)
				undo = func() { tm.exec(t, "UPDATE accesses SET purpose = substr(purpose, 2) WHERE "+last) }
			} else {
				what = "a read of a file removed"
				tm.exec(t, "CREATE TEMP TABLE IF NOT EXISTS removed AS SELECT * FROM accesses WHERE false")
				tm.exec(t, "DELETE FROM removed")
				tm.exec(t, "INSERT INTO removed SELECT * FROM accesses WHERE "+last)
				tm.exec(t, "DELETE FROM accesses WHERE "+last)
				undo = func() { tm.exec(t, "INSERT INTO accesses SELECT * FROM removed") }
			}
		}
		err := verify()
		undo()
		if err == nil {
			t.Fatalf("tampering %d (%s, block at %d) not detected", k, what, b.First)
		}
		detected[what]++
	}
	if err := verify(); err != nil {
		t.Fatalf("after undoing every change: %v", err)
	}
	t.Logf("detected: %v", detected)
}

type sqliteTamperer struct{ conn *sqlite3.Conn }

func (s *sqliteTamperer) blocks(t *testing.T) []domain.AuditBlock {
	var out []domain.AuditBlock
	err := sqlitex.Execute(s.conn, "SELECT first, leaves, hashes FROM audit_log ORDER BY first", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite3.Stmt) error {
			b := domain.AuditBlock{First: stmt.ColumnInt64(0), Leaves: make([]byte, stmt.ColumnLen(1)), Hashes: make([]byte, stmt.ColumnLen(2))}
			stmt.ColumnBytes(1, b.Leaves)
			stmt.ColumnBytes(2, b.Hashes)
			out = append(out, b)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *sqliteTamperer) setBlock(t *testing.T, first int64, leaves, hashes []byte) {
	if err := sqlitex.Execute(s.conn, "UPDATE audit_log SET leaves = ?, hashes = ? WHERE first = ?", &sqlitex.ExecOptions{Args: []any{leaves, hashes, first}}); err != nil {
		t.Fatal(err)
	}
}

func (s *sqliteTamperer) deleteBlock(t *testing.T, first int64) {
	if err := sqlitex.Execute(s.conn, "DELETE FROM audit_log WHERE first = ?", &sqlitex.ExecOptions{Args: []any{first}}); err != nil {
		t.Fatal(err)
	}
}

func (s *sqliteTamperer) insertBlock(t *testing.T, b domain.AuditBlock) {
	if err := sqlitex.Execute(s.conn, "INSERT INTO audit_log (first, leaves, hashes) VALUES (?, ?, ?)", &sqlitex.ExecOptions{Args: []any{b.First, b.Leaves, b.Hashes}}); err != nil {
		t.Fatal(err)
	}
}

func (s *sqliteTamperer) exec(t *testing.T, sql string, _ ...any) {
	if err := sqlitex.ExecuteTransient(s.conn, sql, nil); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifyPostgres: the same on PostgreSQL, two servers sharing the
// database and so the log.
func TestAuditVerifyPostgres(t *testing.T) {
	db := postgresDB(t)
	a := startServer(t, db)
	b := startServer(t, db)
	cp := auditStory(t, a)
	provider := b.token(map[string]any{"role": "provider", "name": "Air China"})
	for i := range 5 {
		b.must(200, "POST", "/v1/checks", provider, map[string]any{"subject": fmt.Sprintf("p%d", i), "action": "buy-flight-ticket"})
	}
	if out, errOut, code := socred(t, "audit", "verify", "--url", b.url, "--checkpoint", cp); code != 0 {
		t.Fatalf("verify --url at the other server: exit %d\n%s%s", code, out, errOut)
	}
	a.stop()
	b.stop()
	out, errOut, code := socred(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(out, "audit log verified") {
		t.Fatalf("verify --db: exit %d\n%s%s", code, out, errOut)
	}
	t.Log(strings.TrimSpace(out))

	ctx := context.Background()
	st, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tamperLoop(t, 1000, &pgTamperer{ctx: ctx, conn: conn}, func() error { _, err := service.VerifyLog(ctx, st); return err })
}

type pgTamperer struct {
	ctx  context.Context
	conn *pgx.Conn
}

func (p *pgTamperer) exec(t *testing.T, sql string, args ...any) {
	if _, err := p.conn.Exec(p.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (p *pgTamperer) blocks(t *testing.T) []domain.AuditBlock {
	rows, _ := p.conn.Query(p.ctx, "SELECT first, leaves, hashes FROM audit_log ORDER BY first")
	bs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.AuditBlock, error) {
		var b domain.AuditBlock
		err := row.Scan(&b.First, &b.Leaves, &b.Hashes)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func (p *pgTamperer) setBlock(t *testing.T, first int64, leaves, hashes []byte) {
	p.exec(t, "UPDATE audit_log SET leaves = $1, hashes = $2 WHERE first = $3", nonNil(leaves), nonNil(hashes), first)
}

func (p *pgTamperer) deleteBlock(t *testing.T, first int64) {
	p.exec(t, "DELETE FROM audit_log WHERE first = $1", first)
}

func (p *pgTamperer) insertBlock(t *testing.T, b domain.AuditBlock) {
	p.exec(t, "INSERT INTO audit_log (first, leaves, hashes) VALUES ($1, $2, $3)", b.First, nonNil(b.Leaves), nonNil(b.Hashes))
}

// nonNil keeps pgx from sending an empty slice as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
