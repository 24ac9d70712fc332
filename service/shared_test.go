package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/postgres"
	"github.com/socred/socred/postgres/postgrestest"
	"github.com/socred/socred/service"
	"github.com/socred/socred/storetest"
)

// openShared starts a service on the PostgreSQL database at db, which other
// services share.
func openShared(t *testing.T, db string, c *clock, opts ...func(*service.Service)) (*service.Service, *postgres.Store) {
	t.Helper()
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	store, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = c.Now
	svc.FeedPoll = 50 * time.Millisecond
	svc.SchedulerIdle = time.Hour // the tests tick by hand
	for _, o := range opts {
		o(svc)
	}
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close(ctx)
		store.Close()
	})
	return svc, store
}

// servers is two services on one PostgreSQL database, sharing a clock.
type servers struct {
	a, b  *service.Service
	store *postgres.Store // a's
	c     *clock
	db    string
}

// twoServers starts two services on one new PostgreSQL schema (what says
// which test needs the database).
func twoServers(t *testing.T, what string, opts ...func(*service.Service)) servers {
	t.Helper()
	s := servers{db: postgrestest.Schema(t, postgrestest.Database(t, what)), c: &clock{t: t0}}
	s.a, s.store = openShared(t, s.db, s.c, opts...)
	s.b, _ = openShared(t, s.db, s.c, opts...)
	return s
}

// eventually waits up to a second for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within one second", what)
		}
	}
}

// Two servers on one database behave as one: writes at either show in the
// checks of the other within a second, idempotency keys hold across them,
// and a term that ends while both run is applied once.
func TestServersShareOneDatabase(t *testing.T) {
	s := twoServers(t, "the test of servers sharing a database")
	a, b, store, c := s.a, s.b, s.store, s.c

	// Subjects created at A can be related and scored at B at once: B
	// takes A's changes before it validates a write.
	setup(t, a)
	if _, err := b.Relate(ctx, admin, socred.Relation{From: "zhao", Type: "guarantor-of", To: "wang"}); err != nil {
		t.Fatalf("relate at B: %v", err)
	}

	// A designation made at A denies a check at B within a second.
	if !allowed(t, b, "wang", "buy-flight-ticket") {
		t.Fatal("before: wang may not fly at B")
	}
	if _, err := a.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "30d"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "designation at A denies at B", func() bool { return !allowed(t, b, "wang", "buy-flight-ticket") })

	// A batch acknowledged at A and replayed at B is a duplicate, with A's
	// ids; the joint-liability record A derived reaches B's world.
	batch := []socred.RecordInput{{Key: "loan-1", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0}}
	first, err := a.SubmitRecords(ctx, admin, batch)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.SubmitRecords(ctx, admin, batch)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Status != "duplicate" || again[0].ID != first[0].ID {
		t.Errorf("replay at B: got %+v, want a duplicate of %s", again[0], first[0].ID)
	}
	eventually(t, "joint liability at B", func() bool {
		f, err := b.File(ctx, admin, "zhao", "test")
		return err == nil && len(f.Scores) > 0 && f.Scores[0].Score == 950
	})

	// Both servers write at once: every batch lands exactly once.
	done := make(chan error, 2)
	for i, svc := range []*service.Service{a, b} {
		go func() {
			for j := range 20 {
				in := []socred.RecordInput{{Key: "both-" + string(rune('a'+i)) + "-" + string(rune('a'+j)), Subject: "zhao", Scheme: "rongcheng", Rule: "blood-donation", OccurredAt: t0}}
				if _, err := svc.SubmitRecords(ctx, admin, in); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	want := int64(950 + 5*40)
	for name, svc := range map[string]*service.Service{"A": a, "B": b} {
		eventually(t, "concurrent writes at "+name, func() bool {
			f, err := svc.File(ctx, admin, "zhao", "test")
			return err == nil && f.Scores[0].Score == want
		})
	}

	// The term ends while both run: both schedulers, and the test, tick.
	// One server applies it, once; the other finds it done.
	c.Set(t0.AddDate(0, 0, 31))
	for _, svc := range []*service.Service{a, b, a, b} {
		if _, err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !allowed(t, a, "wang", "buy-flight-ticket") || !allowed(t, b, "wang", "buy-flight-ticket") {
		t.Error("after the term: wang may not fly")
	}
	changes, err := store.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	for _, ch := range changes {
		if ch.Due != nil && slices.Contains(ch.DueSubjects, "acme") {
			ended++
		}
	}
	if ended != 1 {
		t.Errorf("the end of acme's term was applied %d times, want once", ended)
	}
	// One notice of it: acme is told once that it is off the list.
	ns, err := store.Notices(ctx, "acme", socred.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	delisted := 0
	for _, n := range ns {
		for _, e := range n.Events {
			if e.Kind == socred.EventDelisted && e.Listing != nil && e.Listing.List == "judgment-defaulters" {
				delisted++
			}
		}
	}
	if delisted != 1 {
		t.Errorf("acme was told %d times that it left the list, want once", delisted)
	}
	if es, err := b.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); err != nil || len(es) != 0 {
		t.Errorf("list entries after the term: %v %v", es, err)
	}

	// B restarts while A takes writes, and answers from where A left off.
	b.Close(ctx)
	if _, err := a.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "new judgment", Term: "30d"}); err != nil {
		t.Fatal(err)
	}
	b, _ = openShared(t, s.db, c)
	if allowed(t, b, "wang", "buy-flight-ticket") {
		t.Error("B after its restart: wang may fly")
	}
}

// A read at one server reflects every write acknowledged at another before
// it (API.md: "Decisions reflect every write acknowledged before the
// check"), at once, not within a poll: the check, the file and the subject,
// and a record for a subject just registered elsewhere.
func TestServersReadTheirWrites(t *testing.T) {
	s := twoServers(t, "the test of reads across servers")
	a, b := s.a, s.b
	setup(t, a)
	for i := range 20 {
		if _, err := a.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment"}); err != nil {
			t.Fatal(err)
		}
		if allowed(t, b, "wang", "buy-flight-ticket") {
			t.Fatalf("round %d: the designation acknowledged at A does not deny at B", i)
		}
		if _, err := a.Undesignate(ctx, admin, "judgment-defaulters", "acme", "paid"); err != nil {
			t.Fatal(err)
		}
		if !allowed(t, b, "wang", "buy-flight-ticket") {
			t.Fatalf("round %d: the removal acknowledged at A still denies at B", i)
		}
		id := "new-" + string(rune('a'+i))
		if _, err := a.PutSubjects(ctx, admin, []*socred.Subject{{ID: id, Kind: socred.Person, Name: "New", Region: "rongcheng"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Subject(ctx, admin, id); err != nil {
			t.Fatalf("round %d: the subject registered at A: %v at B", i, err)
		}
		if _, err := b.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: id, Subject: id, Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}}); err != nil {
			t.Fatalf("round %d: a record at B for the subject registered at A: %v", i, err)
		}
	}
}

// A token revoked at one server is refused at another within
// TokenCacheTTL, though that server had it cached.
func TestRevokedTokenAcrossServers(t *testing.T) {
	s := twoServers(t, "the test of token revocation across servers")
	a, b := s.a, s.b
	tok, err := a.CreateToken(ctx, admin, service.TokenInput{Role: socred.RoleProvider, Name: "railway"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, tok.Token); err != nil {
		t.Fatalf("at B before the revocation: %v", err)
	}
	if _, err := a.RevokeToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(service.TokenCacheTTL + 100*time.Millisecond)
	if _, err := b.Authenticate(ctx, tok.Token); socred.ErrorCode(err) != socred.EUNAUTHORIZED {
		t.Errorf("at B %s after the revocation at A: got %v, want unauthorized", service.TokenCacheTTL, err)
	}
}

// tally is a channel that counts what it is given, by idempotency key,
// taking a while over each.
type tally struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *tally) Name() string { return "tally" }

func (c *tally) Deliver(ctx context.Context, n *socred.Notice) error {
	time.Sleep(2 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[n.IdempotencyKey()]++
	return nil
}

// Servers sharing a database deliver each notice once between them: each
// claims the pending notices it delivers (a server delivered what another
// was delivering before, 78 of 965 notices twice in a review's run).
func TestServersDeliverEachNoticeOnce(t *testing.T) {
	ch := &tally{got: map[string]int{}}
	withTally := func(s *service.Service) { s.Channels = []service.Channel{ch} }
	s := twoServers(t, "the test of notice delivery across servers", withTally)
	a, b := s.a, s.b
	setup(t, a)
	// Both servers write at once, so that both deliverers wake at once.
	var wg sync.WaitGroup
	for i, svc := range []*service.Service{a, b} {
		wg.Go(func() {
			for j := range 30 {
				key := fmt.Sprintf("gift-%d-%d", i, j)
				if _, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: key, Subject: "zhao", Scheme: "rongcheng", Rule: "blood-donation", OccurredAt: t0}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	count := func(query string) int {
		conn, err := pgx.Connect(ctx, s.db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pending := func() int { return count(`SELECT count(*) FROM notices WHERE pending`) }
	for deadline := time.Now().Add(20 * time.Second); pending() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d notices still pending after 20 s", pending())
		}
	}
	all := count(`SELECT count(*) FROM notices`)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	twice := 0
	for _, n := range ch.got {
		if n > 1 {
			twice++
		}
	}
	if twice > 0 || len(ch.got) != all {
		t.Errorf("%d notices written, %d delivered, %d of them more than once", all, len(ch.got), twice)
	}
}

// Two servers that tick at the same moment apply what fell due once: the
// checks and reads of files past their retention are deleted once, with
// one expiry entry each in the audit log, not one a server, and the log
// verifies.
func TestServersExpireOnce(t *testing.T) {
	s := twoServers(t, "the test of expiry across servers")
	a, b, store, c := s.a, s.b, s.store, s.c
	setup(t, a)
	for i := range 3 {
		if _, err := a.Check(ctx, provider, service.CheckInput{Subject: "wang", Action: "ride-high-speed-train", Purpose: fmt.Sprintf("ticket %d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.File(ctx, admin, "wang", fmt.Sprintf("read %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(t0.AddDate(2, 0, 1))
	var wg sync.WaitGroup
	for _, svc := range []*service.Service{a, b} {
		wg.Go(func() {
			if _, err := svc.Tick(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	expiries := 0
	for _, l := range storetest.Leaves(t, store) {
		if l.Kind == audit.KindExpiry {
			expiries++
		}
	}
	if expiries != 2 {
		t.Errorf("the audit log holds %d expiry entries, want 2 (one for the checks, one for the reads)", expiries)
	}
	rep, err := service.VerifyLog(ctx, store)
	if err != nil || rep.Expired != 6 {
		t.Errorf("verify after the expiry: %+v, %v; want 6 entries expired (3 checks, 3 reads)", rep, err)
	}
	for name, svc := range map[string]*service.Service{"A": a, "B": b} {
		f, err := svc.File(ctx, &socred.Caller{Token: &socred.Token{ID: "wang", Role: socred.RoleSubject, Subject: "wang"}}, "wang", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Checks) != 0 || len(f.Accesses) != 0 {
			t.Errorf("at %s, wang's file still lists %d checks and %d reads", name, len(f.Checks), len(f.Accesses))
		}
	}
}
