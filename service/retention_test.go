package service_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/audit"
	"github.com/socred/socred/service"
	"github.com/socred/socred/storetest"
)

// A record's evidence is purged its scheme's retain_for (1y in the example
// pack) after it stops counting, by time alone; the rest of the record, and
// the subject's standing, stay. A record accepted already expired is purged
// on the same terms.
func TestRetention(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	in := []socred.RecordInput{
		{Key: "litter-1", Subject: "wang", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0, Evidence: "photo 17, Renmin Road"},
		{Key: "old-1", Subject: "zhao", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0.AddDate(-3, 0, 0), Evidence: "photo 3"},
	}
	res, err := svc.SubmitRecords(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	evidence := func(subject string) (string, *socred.Record) {
		t.Helper()
		recs, err := store.SubjectRecords(ctx, subject)
		if err != nil || len(recs) != 1 {
			t.Fatalf("%s's records: %v %v", subject, recs, err)
		}
		return recs[0].Evidence, recs[0]
	}
	// zhao's record stopped counting two years ago: purged at the next tick.
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, r := evidence("zhao"); ev != "" || r.PurgedAt == nil {
		t.Errorf("the record accepted expired: evidence %q, purged %v", ev, r.PurgedAt)
	}
	if ev, r := evidence("wang"); ev == "" || r.PurgedAt != nil {
		t.Fatalf("wang's counting record was purged: %+v", r)
	}
	_, r := evidence("wang")
	// A day after it stops counting, and a day before retain_for is up.
	c.Set(r.CountsUntil.AddDate(0, 0, 1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := svc.File(ctx, admin, "wang", "test")
	if err != nil {
		t.Fatal(err)
	}
	if f.Records[0].Counting || f.Records[0].Evidence == "" || f.Scores[0].Score != 1000 {
		t.Fatalf("stopped counting: %+v, score %d", f.Records[0], f.Scores[0].Score)
	}
	c.Set(r.CountsUntil.AddDate(1, 0, -1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, _ := evidence("wang"); ev == "" {
		t.Fatal("purged before retain_for was up")
	}
	c.Set(r.CountsUntil.AddDate(1, 0, 1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	ev, purged := evidence("wang")
	if ev != "" || purged.PurgedAt == nil || purged.ID != res[0].ID || purged.Points != -3 {
		t.Errorf("after retain_for: %+v", purged)
	}
	if f, err := svc.File(ctx, admin, "wang", "test"); err != nil || f.Records[0].PurgedAt == nil || f.Scores[0].Score != 1000 {
		t.Errorf("the file after the purge: %+v %v", f, err)
	}
	// Each purge is logged: an entry of the record as it stands without
	// its evidence, which audit verify checks it against.
	_, zhao := evidence("zhao")
	for _, r := range []*socred.Record{zhao, purged} {
		if r.PurgeLogIndex == nil || r.LogIndex == nil || *r.PurgeLogIndex <= *r.LogIndex {
			t.Fatalf("record %s's purge has no receipt after its own: %v, %v", r.ID, r.PurgeLogIndex, r.LogIndex)
		}
		p, err := svc.AuditProof(ctx, *r.PurgeLogIndex, 0)
		if err != nil || p.Leaf.Kind != audit.KindPurge.String() || p.Leaf.Ref != r.ID {
			t.Errorf("record %s's purge entry: %+v, %v", r.ID, p.Leaf, err)
		}
	}
	if rep, err := service.VerifyLog(ctx, store); err != nil || rep.Purged != 2 {
		t.Errorf("verify after the purges: %+v, %v", rep, err)
	}
	// The reporter replaying the batch still gets a duplicate.
	again, err := svc.SubmitRecords(ctx, admin, in[:1])
	if err != nil || again[0].Status != "duplicate" || again[0].ID != res[0].ID {
		t.Errorf("replay after the purge: %+v %v", again, err)
	}
}

// A record suspended by an overdue review (and so not counting, and not
// stopping by time while it is suspended) is purged when it would have been
// had it counted to its end, though the review is never decided: it was
// kept for ever.
func TestSuspendedRecordPurged(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer func() { closeAll(t, svc, store) }()
	setup(t, svc)
	zhao := &socred.Caller{Token: &socred.Token{ID: "li-tok", Role: socred.RoleSubject, Subject: "zhao", Name: "zhao"}}
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "x1", Subject: "zhao", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0, Evidence: "a photo of the street"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.FileAppeal(ctx, zhao, service.AppealInput{Record: res[0].ID, Statement: "not me"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(a.ReviewDue.Add(time.Minute))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := svc.Export(ctx, zhao, "zhao")
	if err != nil {
		t.Fatal(err)
	}
	var due time.Time
	for _, r := range f.Records {
		if r.ID == res[0].ID {
			due = r.PurgeAfter
			if !r.Suspended || r.Evidence == "" {
				t.Fatalf("after the review fell overdue: %+v, want suspended, with its evidence", r.Record)
			}
		}
	}
	if due.IsZero() {
		t.Fatalf("the export has no purge_after for record %s", res[0].ID)
	}
	c.Set(due.Add(-time.Hour))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "zhao", res[0].ID); r.PurgedAt != nil {
		t.Fatalf("purged before its time %s", due)
	}
	c.Set(due.Add(time.Hour))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "zhao", res[0].ID); r.PurgedAt == nil || r.Evidence != "" {
		t.Errorf("at %s, past its purge_after %s: purged %v, evidence %q", c.Now(), due, r.PurgedAt, r.Evidence)
	}
}

func recordOf(t *testing.T, store socred.Store, subject, id string) *socred.Record {
	t.Helper()
	rs, err := store.SubjectRecords(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("record %s of %s not found", id, subject)
	return nil
}

// An overturned record stops counting at its overturn: its evidence is
// purged retain_for after that, not after the end it would have had, and
// the export says so.
func TestOverturnedRecordPurged(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer func() { closeAll(t, svc, store) }()
	setup(t, svc)
	wang := &socred.Caller{Token: &socred.Token{ID: "w", Role: socred.RoleSubject, Subject: "wang", Name: "wang"}}
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "l1", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0, Evidence: "contract 4471"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.FileAppeal(ctx, wang, service.AppealInput{Record: res[0].ID, Statement: "repaid before the date"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(0, 0, 3))
	overturned := c.Now()
	if _, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: socred.AppealOverturned, Reasons: "the bank's receipt"}); err != nil {
		t.Fatal(err)
	}
	x, err := svc.Export(ctx, wang, "wang")
	if err != nil || len(x.Records) != 1 {
		t.Fatalf("export: %+v, %v", x, err)
	}
	want := overturned.AddDate(1, 0, 0)
	if got := x.Records[0].PurgeAfter; !got.Equal(want) || !got.Before(x.Records[0].CountsUntil.AddDate(1, 0, 0)) {
		t.Fatalf("purge_after %s, want %s (a year after the overturn, before a year after %s)", got, want, x.Records[0].CountsUntil)
	}
	c.Set(want.Add(-time.Hour))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "wang", res[0].ID); r.PurgedAt != nil {
		t.Fatalf("purged before purge_after %s", want)
	}
	c.Set(want.Add(time.Hour))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "wang", res[0].ID); r.PurgedAt == nil || r.Evidence != "" {
		t.Fatalf("not purged after purge_after %s: %+v", want, r)
	}
}

// A record stored without an entry in the audit log (before the log
// began) gets one when it is purged, and audit verify checks it against it.
func TestPurgeOfRecordBeforeTheLog(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer func() { closeAll(t, svc, store) }()
	setup(t, svc)
	svc.SetAuditOff(true)
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "x1", Subject: "zhao", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0, Evidence: "a photo"}})
	svc.SetAuditOff(false)
	if err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "zhao", res[0].ID); r.LogIndex != nil {
		t.Fatalf("the record has an entry: %v", *r.LogIndex)
	}
	c.Set(recordOf(t, store, "zhao", res[0].ID).CountsUntil.AddDate(1, 0, 1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recordOf(t, store, "zhao", res[0].ID); r.PurgedAt == nil || r.PurgeLogIndex == nil {
		t.Fatalf("after its purge: %+v", r)
	}
	if rep, err := service.VerifyLog(ctx, store); err != nil || rep.Purged != 1 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// An ended designation keeps its reason, case and end reason for its
// list's retain_for (1y by default), then they are purged from it and from
// the subject's past entries, with an entry in the audit log; one that is
// still in force keeps them.
func TestEndedDesignationPurged(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer func() { closeAll(t, svc, store) }()
	setup(t, svc)
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Case: "(2026) Jing 0105 Zhi 1234"}); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(0, 2, 0))
	if _, err := svc.Undesignate(ctx, admin, "judgment-defaulters", "acme", "paid in full"); err != nil {
		t.Fatal(err)
	}
	ended := c.Now()
	past := func() socred.Listing {
		t.Helper()
		f, err := svc.File(ctx, admin, "acme", "test")
		if err != nil || len(f.PastListings) != 1 {
			t.Fatalf("acme's past listings: %+v, %v", f, err)
		}
		return f.PastListings[0]
	}
	// An entry of a list the pack no longer declares keeps its text the
	// default time (a year) too.
	gone := &socred.Designation{ID: "dsg-gone", List: "retired-list", Subject: "zhao", Authority: "court", Reason: "an old reason",
		Since: t0, Until: ended}
	if err := store.Commit(ctx, &socred.Write{Now: t0, Designations: []*socred.Designation{gone}}); err != nil {
		t.Fatal(err)
	}
	c.Set(ended.AddDate(1, 0, -1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if l := past(); l.Reason != "unpaid judgment" || l.Case == "" || l.EndReason != "paid in full" {
		t.Fatalf("before retain_for is up: %+v", l)
	}
	// What the notices of acme and of wang (its legal representative, whom
	// the entry reached) quote of it.
	quoted := func() map[string]int {
		return storetest.NoticesQuoting(t, store, []string{"acme", "wang"}, "unpaid judgment", "Zhi 1234", "paid in full")
	}
	if n := quoted(); n["acme"] < 3 || n["wang"] < 3 {
		t.Fatalf("before retain_for is up the notices quote the entry %v times, want its reason, case and end reason to acme and wang", n)
	}
	if d, err := store.Designation(ctx, "dsg-gone"); err != nil || d.Reason != "an old reason" {
		t.Fatalf("the retired list's entry before its year: %+v, %v", d, err)
	}
	c.Set(ended.AddDate(1, 0, 1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if l := past(); l.Reason != "" || l.Case != "" || l.EndReason != "" || l.List != "judgment-defaulters" || !l.Since.Equal(t0) {
		t.Fatalf("after retain_for: %+v", l)
	}
	ds, err := store.SubjectDesignations(ctx, "acme")
	if err != nil || len(ds) != 1 || ds[0].PurgedAt == nil || ds[0].Reason != "" || ds[0].Case != "" || ds[0].EndReason != "" {
		t.Fatalf("the designation: %+v, %v", ds, err)
	}
	if n := quoted(); len(n) != 0 {
		t.Errorf("after retain_for the notices of acme and wang quote the entry %v times", n)
	}
	if d, err := store.Designation(ctx, "dsg-gone"); err != nil || d.Reason != "" || d.PurgedAt == nil {
		t.Fatalf("the retired list's entry after its year: %+v, %v", d, err)
	}
	if rep, err := service.VerifyLog(ctx, store); err != nil {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// Every subject of a batch is checked for the caller's right before any is
// validated: a batch changing a subject the caller may not change is
// forbidden, though an earlier subject of it is malformed.
func TestPutSubjectsRightsFirst(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer func() { closeAll(t, svc, store) }()
	setup(t, svc) // by the admin: only the admin may change them
	city := &socred.Caller{Token: &socred.Token{ID: "c", Role: socred.RoleAuthority, Authority: "rongcheng-credit-office", Name: "clerk"}}
	_, err := svc.PutSubjects(ctx, city, []*socred.Subject{
		{ID: "new-1", Kind: "alien", Name: "New", Region: "rongcheng"},
		{ID: "wang", Kind: socred.Person, Name: "Wang Renamed", Region: "rongcheng"},
	})
	if socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("got %v, want forbidden", err)
	}
	_, err = svc.RelateAll(ctx, city, []socred.Relation{{From: "zhao", Type: "nope", To: "wang"}, {From: "zhao", Type: "guarantor-of", To: "wang"}})
	if socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("relations: got %v, want forbidden", err)
	}
}

// Checks and reads of files are deleted when the retention (two years by
// default) has passed since they were made, the oldest first, each batch
// with an entry in the audit log that verify takes for the rows it no
// longer finds: after the expiry, and when the expiry commits while verify
// reads.
func TestChecksExpire(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	purposes := func() (checks, reads []string) {
		t.Helper()
		f, err := svc.File(ctx, &socred.Caller{Token: &socred.Token{ID: "wang", Role: socred.RoleSubject, Subject: "wang"}}, "wang", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range f.Checks {
			checks = append(checks, ch.Purpose)
		}
		for _, a := range f.Accesses {
			reads = append(reads, a.Purpose)
		}
		return checks, reads
	}
	checkAt := func(at time.Time, purpose string) {
		t.Helper()
		c.Set(at)
		if _, err := svc.Check(ctx, provider, service.CheckInput{Subject: "wang", Action: "ride-high-speed-train", Purpose: purpose}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.File(ctx, admin, "wang", "read "+purpose); err != nil {
			t.Fatal(err)
		}
	}
	checkAt(t0, "ticket 1")
	checkAt(t0.AddDate(1, 0, 0), "ticket 2")
	checkAt(t0.AddDate(2, 0, -1), "ticket 3")

	c.Set(t0.AddDate(2, 0, 1))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	checks, reads := purposes()
	if !slices.Equal(checks, []string{"ticket 3", "ticket 2"}) || !slices.Equal(reads, []string{"read ticket 3", "read ticket 2"}) {
		t.Errorf("two years and a day on: checks %q, reads %q; want the first of each deleted", checks, reads)
	}
	rep, err := service.VerifyLog(ctx, store)
	if err != nil || rep.Expired != 2 || rep.Checks != 2 || rep.Accesses != 2 {
		t.Errorf("verify after the expiry: %+v, %v; want 2 entries expired, 2 checks and 2 reads hashed again", rep, err)
	}

	// The next expiry commits while verify reads: the entries it appends
	// account for the rows gone.
	tick := func() {
		c.Set(t0.AddDate(3, 0, 1))
		if _, err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = service.VerifyLog(ctx, racing{Store: store, before: tick})
	if err != nil || rep.Expired != 4 || rep.Checks != 1 {
		t.Errorf("verify while checks expire: %+v, %v; want 4 entries expired, 1 check hashed again", rep, err)
	}
	if checks, _ := purposes(); !slices.Equal(checks, []string{"ticket 3"}) {
		t.Errorf("three years and a day on: checks %q", checks)
	}

	// A row kept past an expiry logged is found.
	kept := socred.Write{Now: c.Now(), Audit: []socred.AuditEntry{{Kind: audit.KindExpiry, Ref: "checks:3"}}}
	if err := store.Commit(ctx, &kept); err != nil {
		t.Fatal(err)
	}
	if _, err := service.VerifyLog(ctx, store); err == nil || !strings.Contains(err.Error(), "check 3 is kept") {
		t.Errorf("verify with a check kept past its expiry: got %v", err)
	}
	// A row deleted without an expiry is missed.
	c.Set(t0.AddDate(5, 0, 0))
	checkAt(c.Now(), "ticket 4")
	if err := store.Commit(ctx, &socred.Write{Now: c.Now(), Expire: socred.Expiry{Checks: 1 << 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := service.VerifyLog(ctx, store); err == nil || !strings.Contains(err.Error(), "which the store does not hold") {
		t.Errorf("verify with checks deleted and no expiry logged: got %v", err)
	}
}

// A tick deletes a bounded number of batches: years of checks past their
// retention go over several ticks, the scheduler free between them.
func TestChecksExpireOverTicks(t *testing.T) {
	defer service.SetExpiryBatches(2, 2)()
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	for i := range 5 {
		c.Set(t0.Add(time.Duration(i) * time.Hour))
		if _, err := svc.Check(ctx, provider, service.CheckInput{Subject: "wang", Action: "ride-high-speed-train", Purpose: "ticket"}); err != nil {
			t.Fatal(err)
		}
	}
	if cs, err := store.Checks(ctx, "wang", socred.Page{}); err != nil || len(cs) != 5 {
		t.Fatalf("checks stored: %d, %v; want 5", len(cs), err)
	}
	// The service's clock stays: its scheduler's own ticks expire nothing.
	later := t0.AddDate(3, 0, 0)
	for _, want := range []struct{ batches, kept int }{{2, 1}, {1, 0}, {0, 0}} { // two batches of two a tick
		n, err := service.ExpireLogs(ctx, svc, later)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := store.Checks(ctx, "wang", socred.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if n != want.batches || len(cs) != want.kept {
			t.Errorf("a tick's expiry: %d batches, %d checks kept; want %d and %d", n, len(cs), want.batches, want.kept)
		}
	}
	if rep, err := service.VerifyLog(ctx, store); err != nil || rep.Expired != 5 {
		t.Errorf("verify: %+v, %v; want the 5 checks' entries expired", rep, err)
	}
}
