package service_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

var ctx = context.Background()

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var (
	admin    = &socred.Caller{Token: &socred.Token{ID: "admin", Role: socred.RoleAdmin, Name: "admin"}}
	provider = &socred.Caller{Token: &socred.Token{ID: "p", Role: socred.RoleProvider, Name: "railway"}}
	t0       = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
)

// open starts a service on the database at path with the example pack.
func open(t *testing.T, path string, c *clock) (*service.Service, *sqlite.Store) {
	t.Helper()
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = c.Now
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func closeAll(t *testing.T, svc *service.Service, store *sqlite.Store) {
	t.Helper()
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
}

func allowed(t *testing.T, svc *service.Service, subject, action string) bool {
	t.Helper()
	d, err := svc.Check(ctx, provider, service.CheckInput{Subject: subject, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

func setup(t *testing.T, svc *service.Service) {
	t.Helper()
	subs := []*socred.Subject{
		{ID: "acme", Kind: socred.Organisation, Name: "Acme", Region: "rongcheng"},
		{ID: "wang", Kind: socred.Person, Name: "Wang", Region: "rongcheng"},
		{ID: "zhao", Kind: socred.Person, Name: "Zhao", Region: "rongcheng"},
	}
	if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Relate(ctx, admin, socred.Relation{From: "wang", Type: "legal-representative-of", To: "acme"}); err != nil {
		t.Fatal(err)
	}
}

// A term ends and a record stops counting by time alone: checks, list
// entries and the register follow without any write.
func TestTimeDrivenChanges(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "30d"}); err != nil {
		t.Fatal(err)
	}
	// zhao crosses on red twice within a year: barred from taxis for as
	// long as both red lights fall within the window.
	for i, at := range []time.Time{t0.Add(-24 * time.Hour), t0} {
		if _, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "red-" + string(rune('a'+i)), Subject: "zhao", Scheme: "rongcheng", Rule: "red-light", OccurredAt: at}}); err != nil {
			t.Fatal(err)
		}
	}
	if allowed(t, svc, "wang", "buy-flight-ticket") || allowed(t, svc, "zhao", "hire-taxi") {
		t.Fatal("before: wang may fly or zhao may hire a taxi")
	}
	// Eleven days on, the listing is past its grace period and published.
	c.Set(t0.AddDate(0, 0, 11))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := svc.Register(ctx, "judgment-defaulters", "", socred.Page{})
	if err != nil || len(reg) != 1 || reg[0].Subject != "acme" {
		t.Errorf("register after the grace period: got %v %v, want acme", reg, err)
	}
	// Past the term: off the list, off the register, wang may fly.
	// (The background scheduler, woken by the last write, may apply the
	// change before this tick does.)
	c.Set(t0.AddDate(0, 0, 31))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after the term: wang may not fly")
	}
	if es, _ := svc.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); len(es) != 0 {
		t.Errorf("list entries after the term: %v", es)
	}
	if reg, _ := svc.Register(ctx, "judgment-defaulters", "", socred.Page{}); len(reg) != 0 {
		t.Errorf("register after the term: %v", reg)
	}
	// A year after the first red light the window has slid past it.
	c.Set(t0.AddDate(1, 0, 0).Add(-23 * time.Hour))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, svc, "zhao", "hire-taxi") {
		t.Error("after the window slid: zhao may not hire a taxi")
	}
	if es, _ := svc.ListEntries(ctx, admin, "repeat-red-light", socred.Page{}); len(es) != 0 {
		t.Errorf("repeat-red-light after the window: %v", es)
	}
}

// A server that was down while a term ended catches up when it starts.
func TestRestartCatchesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := open(t, path, c)
	setup(t, svc)
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "30d"}); err != nil {
		t.Fatal(err)
	}
	closeAll(t, svc, store)

	c.Set(t0.AddDate(0, 2, 0)) // down for two months
	svc, store = open(t, path, c)
	defer closeAll(t, svc, store)
	if es, _ := svc.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); len(es) != 0 {
		t.Errorf("after the restart the list still holds %v", es)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after the restart wang may not fly")
	}
	// Caught up at the moment the term ended, not at the restart.
	f, err := svc.File(ctx, admin, "acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Listings) != 0 {
		t.Errorf("acme's file still lists %v", f.Listings)
	}
}

// A check is logged durably before it is answered and shows in the file.
func TestChecksAreLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := open(t, path, c)
	setup(t, svc)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.Check(ctx, provider, service.CheckInput{Subject: "wang", Action: "buy-flight-ticket", Purpose: "ticket"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	closeAll(t, svc, store)
	svc, store = open(t, path, c)
	defer closeAll(t, svc, store)
	f, err := svc.File(ctx, admin, "wang", "audit")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Checks) != 50 || f.Checks[0].By != "railway" || f.Checks[0].Action != "buy-flight-ticket" {
		t.Errorf("wang's file shows %d checks (%v), want 50 by railway", len(f.Checks), f.Checks[:min(1, len(f.Checks))])
	}
}

// A designation is extended (ExtendDesignation) by a term that ends later,
// counted from its start, never beyond max_term; designating a listed
// subject again, or a term that ends sooner, is refused; a subject taken off
// the list can be put on it again.
func TestDesignationExtendedAndRelisted(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	first, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "2y"})
	if err != nil {
		t.Fatalf("designate: %v", err)
	}
	// A check tells the provider why, and how the entry may be contested
	// or ended: the company's own entry, and its reach to its legal
	// representative.
	for _, tc := range []struct {
		subject string
		want    []string
	}{
		{"acme", []string{"appeal the designation to a reviewer within 30d", "obligation-performed", "after 1mo on the list"}},
		{"wang", []string{"related subject's", "relation is corrected"}},
	} {
		d, err := svc.Check(ctx, provider, service.CheckInput{Subject: tc.subject, Action: "buy-flight-ticket"})
		if err != nil || d.Allowed || len(d.Reasons) == 0 {
			t.Fatalf("%s: %+v, %v", tc.subject, d, err)
		}
		r := d.Reasons[0]
		if r.Why != "unpaid judgment" {
			t.Errorf("%s: why %q, want the designation's reason", tc.subject, r.Why)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.Remedy, w) {
				t.Errorf("%s: remedy %q lacks %q", tc.subject, r.Remedy, w)
			}
		}
	}
	c.Set(t0.AddDate(1, 0, 0))
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "again", Term: "5y"}); socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("designating a listed subject again: got %v, want conflict", err)
	}
	if _, err := svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "acme", service.ExtensionInput{Reason: "again", Term: "1y"}); socred.ErrorCode(err) != socred.EINVALID || socred.ErrorField(err) != "term" {
		t.Errorf("a term that ends sooner: got %v, want invalid term", err)
	}
	if _, err := svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "acme", service.ExtensionInput{Reason: "again", Term: "6y"}); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("beyond max_term: got %v, want invalid", err)
	}
	if _, err := svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "acme", service.ExtensionInput{Reason: "again"}); socred.ErrorCode(err) != socred.EINVALID || socred.ErrorField(err) != "term" {
		t.Errorf("no term: got %v, want invalid term", err)
	}
	if _, err := svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "wang", service.ExtensionInput{Reason: "again", Term: "3y"}); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("extending a subject not listed: got %v, want not found", err)
	}
	l, err := svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "acme", service.ExtensionInput{Reason: "still refuses to pay", Term: "5y"})
	if err != nil {
		t.Fatalf("extend: %v", err)
	}
	if want := t0.AddDate(5, 0, 0); !l.Since.Equal(first.Since) || l.Until == nil || !l.Until.Equal(want) || l.Designation != first.Designation {
		t.Errorf("extended entry: got since %v until %v (%s), want since %v until %v (%s)", l.Since, l.Until, l.Designation, first.Since, want, first.Designation)
	}
	if want := "unpaid judgment; extended: still refuses to pay"; l.Reason != want {
		t.Errorf("extended entry's reason: %q, want %q", l.Reason, want)
	}
	// Past the original two years the entry still holds.
	c.Set(t0.AddDate(3, 0, 0))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after the original term, within the extended one: wang may fly")
	}
	f, err := svc.File(ctx, admin, "acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(noticeKindsList(f.Notices), func(k socred.NoticeKind) bool { return k == socred.NoticeKind(socred.EventTermChanged) }) {
		t.Errorf("acme was not told its term changed: %+v", f.Notices)
	}
	if l, err = svc.ExtendDesignation(ctx, admin, "judgment-defaulters", "acme", service.ExtensionInput{Reason: "a second judgment", Term: "5y"}); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("extending to the same end again: %v, want invalid", err)
	}
	ended, err := svc.Undesignate(ctx, admin, "judgment-defaulters", "acme", "paid")
	if err != nil {
		t.Fatal(err)
	}
	if ended.EndReason != "paid" || ended.Reason != "unpaid judgment; extended: still refuses to pay" {
		t.Errorf("the ended entry: reason %q, end reason %q", ended.Reason, ended.EndReason)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after removal: wang may not fly")
	}
	f, err = svc.File(ctx, admin, "acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(f.Notices, func(n socred.Notice) bool {
		return n.Kind == socred.NoticeKind(socred.EventDelisted) && strings.HasSuffix(n.Message, `: paid.`)
	}) {
		t.Errorf("acme was not told why it left the list: %+v", f.Notices)
	}
	if len(f.Listings) != 0 || len(f.PastListings) != 1 || f.PastListings[0].EndReason != "paid" || f.PastListings[0].Kind != socred.Black ||
		f.PastListings[0].Designation != first.Designation {
		t.Errorf("acme's file after removal: listings %+v, past %+v", f.Listings, f.PastListings)
	}
	again, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "a new judgment"})
	if err != nil || again.Designation == first.Designation {
		t.Fatalf("re-listing: %+v, %v", again, err)
	}
	if allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after re-listing: wang may fly")
	}
}

func noticeKindsList(ns []socred.Notice) []socred.NoticeKind {
	var out []socred.NoticeKind
	for k := range noticeKinds(ns) {
		out = append(out, k)
	}
	return out
}

// A one-month term from 31 January ends on the last day of February, and
// the scheduler ends it then: in a leap year on the 29th.
func TestTermOverMonthEnd(t *testing.T) {
	start := time.Date(2028, 1, 31, 15, 0, 0, 0, time.UTC)
	c := &clock{t: start}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	l, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "1mo"})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2028, 2, 29, 15, 0, 0, 0, time.UTC); l.Until == nil || !l.Until.Equal(want) {
		t.Fatalf("until: got %v, want %v", l.Until, want)
	}
	c.Set(time.Date(2028, 2, 29, 14, 59, 0, 0, time.UTC))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("on 29 February before the hour: wang may fly")
	}
	c.Set(time.Date(2028, 2, 29, 15, 0, 1, 0, time.UTC))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after the term: wang may not fly")
	}
}

// stopAt is a store that stops, as a killed server would, before the
// scheduler's write number n.
type stopAt struct {
	*sqlite.Store
	mu     sync.Mutex
	n, due int
}

func (s *stopAt) Commit(ctx context.Context, w *socred.Write) error {
	if w.Due != nil {
		s.mu.Lock()
		s.due++
		stop := s.due >= s.n
		s.mu.Unlock()
		if stop {
			return errors.New("stopped")
		}
	}
	return s.Store.Commit(ctx, w)
}

// A catch-up too large for one write commits in several; a server stopped
// between them finishes the pass at its restart without applying any
// change twice: one delisting notice a subject, each at its moment.
func TestCatchUpStoppedBetweenWrites(t *testing.T) {
	const subjects, batch = 30, 8
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := open(t, path, c)
	var subs []*socred.Subject
	var recs []socred.RecordInput
	for i := range subjects {
		id := fmt.Sprintf("p%02d", i)
		subs = append(subs, &socred.Subject{ID: id, Kind: socred.Person, Name: id, Region: "rongcheng"})
		// Twice on red within a year: on repeat-red-light until the
		// first red light is a year old, a minute later for each subject.
		first := t0.Add(-time.Hour + time.Duration(i)*time.Minute)
		recs = append(recs,
			socred.RecordInput{Key: id + "-1", Subject: id, Scheme: "rongcheng", Rule: "red-light", OccurredAt: first},
			socred.RecordInput{Key: id + "-2", Subject: id, Scheme: "rongcheng", Rule: "red-light", OccurredAt: t0})
	}
	if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SubmitRecords(ctx, admin, recs); err != nil {
		t.Fatal(err)
	}
	if es, _ := svc.ListEntries(ctx, admin, "repeat-red-light", socred.Page{Limit: 100}); len(es) != subjects {
		t.Fatalf("repeat-red-light holds %d subjects, want %d", len(es), subjects)
	}
	closeAll(t, svc, store)

	// Down for a year: every listing ended while the server was down.
	p, _, err := pack.Load(packs.Example)
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(1, 0, 1))
	for _, stop := range []int{2, 3} {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := service.New(&stopAt{Store: st, n: stop}, p)
		if err != nil {
			t.Fatal(err)
		}
		svc.Now = c.Now
		service.SetDueBatch(svc, batch)
		if err := svc.Open(ctx); err == nil || !strings.Contains(err.Error(), "stopped") {
			t.Fatalf("catch-up stopped at write %d: got %v", stop, err)
		}
		if err := svc.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	svc, store = open(t, path, c)
	defer closeAll(t, svc, store)
	if es, _ := svc.ListEntries(ctx, admin, "repeat-red-light", socred.Page{Limit: 100}); len(es) != 0 {
		t.Errorf("after the catch-up repeat-red-light holds %d subjects", len(es))
	}
	for i := range subjects {
		id := fmt.Sprintf("p%02d", i)
		x, err := svc.Export(ctx, admin, id)
		if err != nil {
			t.Fatal(err)
		}
		var delisted []time.Time
		for _, n := range x.Notices {
			if n.Kind == socred.NoticeKind(socred.EventDelisted) && n.List == "repeat-red-light" {
				delisted = append(delisted, n.At)
			}
		}
		want := t0.Add(-time.Hour+time.Duration(i)*time.Minute).AddDate(1, 0, 0)
		if len(delisted) != 1 || !delisted[0].Equal(want) {
			t.Errorf("%s: delisting notices at %v, want one at %v", id, delisted, want)
		}
	}
}

// A relation type that says what kinds of subject it links refuses others:
// a legal representative is a person, of an organisation. A guarantee,
// which says nothing, links any two.
func TestRelationEndsOfTheirKinds(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	for _, tc := range []struct {
		from, to, field, msg string
	}{
		{"zhao", "wang", "to", `legal-representative-of relates a person to an organisation; "wang" is a person`},
		{"acme", "acme", "to", "itself"},
		{"acme", "wang", "from", `"acme" is an organisation`},
	} {
		_, err := svc.Relate(ctx, admin, socred.Relation{From: tc.from, Type: "legal-representative-of", To: tc.to})
		if socred.ErrorCode(err) != socred.EINVALID || socred.ErrorField(err) != tc.field || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("(%s, legal-representative-of, %s): got %v (field %q), want invalid %s: %s", tc.from, tc.to, err, socred.ErrorField(err), tc.field, tc.msg)
		}
	}
	var n int
	for _, r := range []socred.Relation{{From: "acme", Type: "guarantor-of", To: "zhao"}, {From: "zhao", Type: "legal-representative-of", To: "acme"}} {
		if _, err := svc.Relate(ctx, admin, r); err != nil {
			t.Errorf("%v: %v", r, err)
		}
	}
	// A subject in a relation cannot become of a kind that no longer fits.
	_, err := svc.PutSubjects(ctx, admin, []*socred.Subject{{ID: "zhao", Kind: socred.Organisation, Name: "Zhao Ltd", Region: "rongcheng"}})
	if socred.ErrorField(err) != "kind" || !strings.Contains(err.Error(), `"zhao" cannot become an organisation: it is in (zhao, legal-representative-of, acme), and legal-representative-of relates a person to an organisation`) {
		t.Errorf("zhao becoming an organisation: got %v (field %q)", err, socred.ErrorField(err))
	}
	if _, err := svc.PutSubjects(ctx, admin, []*socred.Subject{{ID: "wang", Kind: socred.Person, Name: "Wang Fang", Region: "rongcheng"}}); err != nil {
		t.Errorf("renaming wang: %v", err)
	}
	// A batch with one misfit stores none of it.
	n, err = svc.RelateAll(ctx, admin, []socred.Relation{{From: "wang", Type: "guarantor-of", To: "zhao"}, {From: "acme", Type: "legal-representative-of", To: "acme"}})
	if err == nil || socred.ErrorField(err) != "relations[1].to" || n != 0 {
		t.Errorf("a batch with a misfit: got %d, %v (field %q)", n, err, socred.ErrorField(err))
	}
	if f, _ := svc.File(ctx, admin, "wang", "test"); slices.ContainsFunc(f.Relations, func(r socred.Relation) bool { return r.Type == "guarantor-of" }) {
		t.Errorf("the batch's first relation was stored: %v", f.Relations)
	}
}

// A secret key is the store's: the same after a restart (and on every
// server sharing the store), another for another purpose.
func TestSecretKeyIsTheStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := open(t, path, c)
	a, b := svc.SecretKey("web confirmations"), svc.SecretKey("another purpose")
	closeAll(t, svc, store)
	svc, store = open(t, path, c)
	defer closeAll(t, svc, store)
	if len(a) != 32 || !slices.Equal(a, svc.SecretKey("web confirmations")) || slices.Equal(a, b) {
		t.Errorf("keys: %x, after a restart %x, another purpose's %x", a, svc.SecretKey("web confirmations"), b)
	}
}
