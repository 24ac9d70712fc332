package main_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"

	sc "github.com/socred/socred"
	"github.com/socred/socred/service"
)

// TestRetainChecks: a check made a year ago stays under the default
// retention (2 years) and is deleted at the start of a server given
// --retain-checks 6mo, which logs it; audit verify then accounts for it.
func TestRetainChecks(t *testing.T) {
	db := filepath.Join(t.TempDir(), "socred.db")
	seedCheck(t, db, time.Now().AddDate(-1, 0, 0))
	checks := func() int {
		n := 0
		querySQLite(t, db, "SELECT count(*) FROM checks", func(stmt *sqlite.Stmt) { n = stmt.ColumnInt(0) })
		return n
	}
	s := startServer(t, db)
	s.stop()
	if n := checks(); n != 1 || strings.Contains(s.logs.String(), "past their retention") {
		t.Fatalf("under the default retention: %d checks kept, want 1 and nothing deleted\n%s", n, s.logs)
	}
	s = startServer(t, db, "--retain-checks", "6mo")
	s.stop()
	if n := checks(); n != 0 || !strings.Contains(s.logs.String(), "past their retention\" component=service retention=6mo checks_through=1") {
		t.Errorf("with --retain-checks 6mo: %d checks kept, want 0 and the deletion logged\n%s", n, s.logs)
	}
	out, errOut, code := socred(t, "audit", "verify", "--db", db)
	if code != 0 || !strings.Contains(out, "1 entries of checks and reads of files name rows deleted at the end of their retention") {
		t.Errorf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}

// seedCheck makes a database at db with one subject, checked once at at.
func seedCheck(t *testing.T, db string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	svc, closeSvc := openExample(t, db, func() time.Time { return at })
	admin := &sc.Caller{Token: &sc.Token{ID: "admin", Role: sc.RoleAdmin, Name: "admin"}}
	if _, err := svc.PutSubjects(ctx, admin, []*sc.Subject{{ID: "zhang", Kind: sc.Person, Name: "Zhang", Region: "rongcheng"}}); err != nil {
		t.Fatal(err)
	}
	railway := &sc.Caller{Token: &sc.Token{ID: "rail", Role: sc.RoleProvider, Name: "railway"}}
	if _, err := svc.Check(ctx, railway, service.CheckInput{Subject: "zhang", Action: "ride-high-speed-train", Purpose: "ticket G1234"}); err != nil {
		t.Fatal(err)
	}
	closeSvc()
}
