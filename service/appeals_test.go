package service_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
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

// Li appeals the default that cost Zhang, his guarantor, points and the
// blacklist. While open the record is contested; the reviewer of the
// reporting authority may not decide; another overturns it, and both Li's
// and Zhang's points and listings are cleared at once, and both are told.
func TestAppealOverturnsGuarantorsDerivedRecord(t *testing.T) {
	c := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "socred.db")
	svc, store := open(t, path, c)
	defer func() { closeAll(t, svc, store) }()
	subs := []*socred.Subject{
		{ID: "zhang", Kind: socred.Person, Name: "Zhang", Region: "rongcheng"},
		{ID: "li", Kind: socred.Person, Name: "Li", Region: "rongcheng"},
	}
	if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Relate(ctx, admin, socred.Relation{From: "zhang", Type: "guarantor-of", To: "li"}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan-1", Subject: "li", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if allowed(t, svc, "zhang", "ride-high-speed-train") {
		t.Fatal("zhang may ride high-speed trains after li's default")
	}
	li := &socred.Caller{Token: &socred.Token{ID: "li-tok", Role: socred.RoleSubject, Subject: "li", Name: "li"}}
	zhang := &socred.Caller{Token: &socred.Token{ID: "zhang-tok", Role: socred.RoleSubject, Subject: "zhang", Name: "zhang"}}

	// Refused appeals.
	for _, tc := range []struct {
		who  *socred.Caller
		in   service.AppealInput
		code string
	}{
		{li, service.AppealInput{Record: res[0].ID}, socred.EINVALID},                                              // no statement
		{zhang, service.AppealInput{Record: res[0].ID, Statement: "not mine"}, socred.EINVALID},                    // not zhang's record
		{li, service.AppealInput{Record: res[0].ID, List: "judgment-defaulters", Statement: "x"}, socred.EINVALID}, // both
		{li, service.AppealInput{List: "rongcheng-blacklist", Statement: "x"}, socred.EINVALID},                    // automatic list
		{provider, service.AppealInput{Record: res[0].ID, Statement: "x"}, socred.EFORBIDDEN},
	} {
		if _, err := svc.FileAppeal(ctx, tc.who, tc.in); socred.ErrorCode(err) != tc.code {
			t.Errorf("appeal %+v by %s: got %v, want %s", tc.in, tc.who.Name(), err, tc.code)
		}
	}
	c.Set(t0.AddDate(0, 0, 3))
	a, err := svc.FileAppeal(ctx, li, service.AppealInput{Record: res[0].ID, Statement: "I repaid the loan on time; the bank's receipt 8812 shows it."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FileAppeal(ctx, li, service.AppealInput{Record: res[0].ID, Statement: "again"}); socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("a second open appeal: got %v, want conflict", err)
	}
	f, err := svc.File(ctx, li, "li", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Appeals) != 1 || f.Records[0].Status != socred.RecordContested {
		t.Errorf("while open: appeals %+v, record status %s", f.Appeals, f.Records[0].Status)
	}
	// zhang's record, derived from li's, is contested with it.
	if zf, err := svc.File(ctx, admin, "zhang", "test"); err != nil || zf.Records[0].Status != socred.RecordContested {
		t.Errorf("zhang's derived record while li's appeal is open: %+v, %v", zf.Records, err)
	}

	// The city's own reviewer may not decide on the city's record.
	cityReviewer := &socred.Caller{Token: &socred.Token{ID: "r-city", Role: socred.RoleReviewer, Authority: "rongcheng-credit-office", Name: "city review"}}
	if _, err := svc.DecideAppeal(ctx, cityReviewer, a.ID, service.DecisionInput{Decision: socred.AppealOverturned, Reasons: "ok"}); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("the reporting authority's reviewer: got %v, want forbidden", err)
	}
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	if _, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: "maybe", Reasons: "x"}); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("a decision of maybe: got %v, want invalid", err)
	}
	d, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: socred.AppealOverturned, Reasons: "The receipt shows the instalment paid on time."})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != socred.AppealOverturned || d.DecidedBy != "review board" {
		t.Errorf("decided: %+v", d)
	}
	if _, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: socred.AppealUpheld, Reasons: "x"}); socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("deciding again: got %v, want conflict", err)
	}

	// Overturned everywhere at once: li's and zhang's points, zhang's
	// listing and his checks; both were told.
	if !allowed(t, svc, "zhang", "ride-high-speed-train") {
		t.Error("after the appeal: zhang may not ride high-speed trains")
	}
	for _, id := range []string{"li", "zhang"} {
		f, err := svc.File(ctx, admin, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		if f.Scores[0].Score != 1000 || len(f.Listings) != 0 || f.Records[0].Status != socred.RecordOverturned || f.Records[0].Counting {
			t.Errorf("%s after the appeal: score %d, listings %v, record %+v", id, f.Scores[0].Score, f.Listings, f.Records[0])
		}
		kinds := noticeKinds(f.Notices)
		if !kinds[socred.NoticeKind(socred.EventScoreChanged)] {
			t.Errorf("%s was not told the score changed back: %+v", id, f.Notices)
		}
	}
	f, _ = svc.File(ctx, li, "li", "")
	if !noticeKinds(f.Notices)[service.NoticeAppealDecided] || !noticeKinds(f.Notices)[service.NoticeAppealFiled] {
		t.Errorf("li was not told of the appeal: %+v", f.Notices)
	}
	// zhang is told why his record stopped counting.
	zf, _ := svc.File(ctx, admin, "zhang", "test")
	if !slices.ContainsFunc(zf.Notices, func(n socred.Notice) bool {
		return n.Kind == service.NoticeAppealDecided && strings.Contains(n.Message, "derived from li's record "+res[0].ID+", was overturned with it on appeal "+a.ID)
	}) {
		t.Errorf("zhang was not told why his record no longer counts: %+v", zf.Notices)
	}

	// A restarted server agrees.
	closeAll(t, svc, store)
	svc, store = open(t, path, c)
	if !allowed(t, svc, "zhang", "ride-high-speed-train") {
		t.Error("after a restart: zhang may not ride high-speed trains")
	}

	// Too late: an appeal after appeal_within (30 days).
	res2, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "litter-1", Subject: "li", Scheme: "rongcheng", Rule: "littering", OccurredAt: c.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(c.Now().AddDate(0, 0, 31))
	if _, err := svc.FileAppeal(ctx, li, service.AppealInput{Record: res2[0].ID, Statement: "late"}); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("a late appeal: got %v, want invalid", err)
	}
}

// An appeal not decided by its review_due suspends the entry's effect until
// it is decided: the record and the guarantor's derived one stop counting;
// upheld, they count again; overturned, they stay off.
func TestOverdueReviewSuspends(t *testing.T) {
	c := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "socred.db")
	svc, store := open(t, path, c)
	defer func() { closeAll(t, svc, store) }()
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	for i, decision := range []socred.AppealStatus{socred.AppealUpheld, socred.AppealOverturned} {
		// A guarantor and a debtor of their own for each decision.
		zhang, liID := "zhang"+strconv.Itoa(i), "li"+strconv.Itoa(i)
		start := t0.AddDate(0, i*3, 0)
		c.Set(start)
		subs := []*socred.Subject{
			{ID: zhang, Kind: socred.Person, Name: "Zhang", Region: "rongcheng"},
			{ID: liID, Kind: socred.Person, Name: "Li", Region: "rongcheng"},
		}
		if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Relate(ctx, admin, socred.Relation{From: zhang, Type: "guarantor-of", To: liID}); err != nil {
			t.Fatal(err)
		}
		li := &socred.Caller{Token: &socred.Token{ID: "li-tok", Role: socred.RoleSubject, Subject: liID, Name: "li"}}
		res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan-" + string(decision), Subject: liID, Scheme: "rongcheng", Rule: "loan-default", OccurredAt: start}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := svc.FileAppeal(ctx, li, service.AppealInput{Record: res[0].ID, Statement: "repaid"})
		if err != nil {
			t.Fatal(err)
		}
		if allowed(t, svc, zhang, "ride-high-speed-train") {
			t.Fatalf("%s: before the review is due, zhang may ride", decision)
		}
		c.Set(a.ReviewDue.Add(time.Minute))
		if _, err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if !allowed(t, svc, zhang, "ride-high-speed-train") {
			t.Errorf("%s: with the review overdue, zhang may not ride", decision)
		}
		f, err := svc.File(ctx, li, liID, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Appeals[len(f.Appeals)-1]; got.SuspendedAt == nil || !noticeKinds(f.Notices)[service.NoticeAppealOverdue] {
			t.Errorf("%s: appeal %+v, notices %+v", decision, got, f.Notices)
		}
		// A restarted server keeps the suspension.
		closeAll(t, svc, store)
		svc, store = open(t, path, c)
		if !allowed(t, svc, zhang, "ride-high-speed-train") {
			t.Errorf("%s: after a restart, the suspension is lost", decision)
		}
		if _, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: decision, Reasons: "decided late"}); err != nil {
			t.Fatal(err)
		}
		want := decision == socred.AppealOverturned
		if got := allowed(t, svc, zhang, "ride-high-speed-train"); got != want {
			t.Errorf("%s: after the decision zhang may ride: %v, want %v", decision, got, want)
		}
		f, err = svc.File(ctx, admin, liID, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Records {
			if r.ID == res[0].ID && r.Counting == want {
				t.Errorf("%s: li's record counting %v, status %s", decision, r.Counting, r.Status)
			}
		}
		// Upheld, li (and zhang, whose derived record came back with it)
		// are told the record counts again.
		for _, id := range []string{liID, zhang} {
			f, err := svc.File(ctx, admin, id, "test")
			if err != nil {
				t.Fatal(err)
			}
			told := slices.ContainsFunc(f.Notices, func(n socred.Notice) bool { return strings.Contains(n.Message, "counts again") })
			if told != (decision == socred.AppealUpheld) {
				t.Errorf("%s: %s told the record counts again: %v", decision, id, told)
			}
		}
	}
}

// An entry suspended while its appeal's review is overdue stays on the
// list: it cannot be designated again over it, the decision restores it
// once, and ending it ends it.
func TestSuspendedEntryStaysOnTheList(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment", Term: "2y"}); err != nil {
		t.Fatal(err)
	}
	acme := &socred.Caller{Token: &socred.Token{ID: "acme-tok", Role: socred.RoleSubject, Subject: "acme", Name: "acme"}}
	a, err := svc.FileAppeal(ctx, acme, service.AppealInput{List: "judgment-defaulters", Statement: "the judgment was paid"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(a.ReviewDue.Add(time.Minute))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Fatal("with the review overdue, wang (acme's representative) may not fly")
	}
	_, err = svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment"})
	if socred.ErrorCode(err) != socred.ECONFLICT || !strings.Contains(err.Error(), "suspended") {
		t.Errorf("designating the suspended subject again: got %v, want conflict", err)
	}
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	if _, err := svc.DecideAppeal(ctx, board, a.ID, service.DecisionInput{Decision: socred.AppealUpheld, Reasons: "not paid"}); err != nil {
		t.Fatal(err)
	}
	if es, _ := svc.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); len(es) != 1 || allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Errorf("upheld: entries %v; wang may fly", es)
	}
	f, err := svc.File(ctx, admin, "acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.PastListings) != 1 || !strings.Contains(f.PastListings[0].EndReason, "suspended") {
		t.Errorf("the suspended spell in the past listings: %+v", f.PastListings)
	}
	if _, err := svc.Undesignate(ctx, admin, "judgment-defaulters", "acme", "paid at last"); err != nil {
		t.Fatal(err)
	}
	if es, _ := svc.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); len(es) != 0 || !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Errorf("ended: entries %v; wang may not fly", es)
	}
}

// A refused appeal names the field at fault: the record or list whose time
// to appeal ended, the unknown subject the admin named.
func TestAppealErrorsNameTheirField(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "zhao", Reason: "unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(0, 0, 31))
	for _, tc := range []struct {
		in    service.AppealInput
		field string
	}{
		{service.AppealInput{Subject: "wang", Record: res[0].ID, Statement: "late"}, "record"},
		{service.AppealInput{Subject: "zhao", List: "judgment-defaulters", Statement: "late"}, "list"},
		{service.AppealInput{Subject: "nobody", Record: res[0].ID, Statement: "x"}, "subject"},
		// wang is acme's legal representative: its entry reaches him, and
		// is acme's to appeal.
		{service.AppealInput{Subject: "wang", List: "judgment-defaulters", Statement: "not mine"}, "list"},
	} {
		_, err := svc.FileAppeal(ctx, admin, tc.in)
		if socred.ErrorCode(err) != socred.EINVALID || socred.ErrorField(err) != tc.field {
			t.Errorf("appeal %+v: got %v (field %q), want invalid %s", tc.in, err, socred.ErrorField(err), tc.field)
		}
		if tc.in.Subject == "wang" && tc.in.List != "" && !strings.Contains(err.Error(), `the entry is "acme"'s, reaching "wang" through the relation (wang, legal-representative-of, acme)`) {
			t.Errorf("wang's appeal of acme's entry: %v", err)
		}
	}
}

// reinstated is a store that keeps the records each commit reinstates.
type reinstated struct {
	*sqlite.Store
	mu   sync.Mutex // the scheduler commits too
	refs []socred.RecordRef
}

func (s *reinstated) Commit(ctx context.Context, w *socred.Write) error {
	s.mu.Lock()
	s.refs = append(s.refs, w.Reinstate...)
	s.mu.Unlock()
	return s.Store.Commit(ctx, w)
}

func (s *reinstated) reinstated() []socred.RecordRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refs)
}

// A derived record suspended while its appeal's review is overdue, then
// overturned with the record it came from, is not reinstated when its own
// appeal is upheld: it stays overturned, and the log says nothing of a
// reinstatement.
func TestUpheldAppealLeavesOverturnedRecord(t *testing.T) {
	c := &clock{t: t0}
	p, _, err := pack.Load(packs.Example)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	rs := &reinstated{Store: st}
	svc, err := service.New(rs, p)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = c.Now
	if err := svc.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer closeAll(t, svc, st)
	setup(t, svc)
	if _, err := svc.Relate(ctx, admin, socred.Relation{From: "zhao", Type: "guarantor-of", To: "wang"}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0}})
	if err != nil || len(res[0].Derived) != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	derived := res[0].Derived[0].ID
	zhao := &socred.Caller{Token: &socred.Token{ID: "zhao-tok", Role: socred.RoleSubject, Subject: "zhao", Name: "zhao"}}
	wang := &socred.Caller{Token: &socred.Token{ID: "wang-tok", Role: socred.RoleSubject, Subject: "wang", Name: "wang"}}
	c.Set(t0.AddDate(0, 0, 1))
	za, err := svc.FileAppeal(ctx, zhao, service.AppealInput{Record: derived, Statement: "I never guaranteed this loan"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(0, 0, 2))
	wa, err := svc.FileAppeal(ctx, wang, service.AppealInput{Record: res[0].ID, Statement: "repaid"})
	if err != nil {
		t.Fatal(err)
	}
	c.Set(za.ReviewDue.Add(time.Minute))
	if _, err := svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	other := &socred.Caller{Token: &socred.Token{ID: "r-other", Role: socred.RoleReviewer, Name: "second board"}}
	if _, err := svc.DecideAppeal(ctx, board, wa.ID, service.DecisionInput{Decision: socred.AppealOverturned, Reasons: "repaid"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DecideAppeal(ctx, other, za.ID, service.DecisionInput{Decision: socred.AppealUpheld, Reasons: "the guarantee is on file"}); err != nil {
		t.Fatal(err)
	}
	if got := rs.reinstated(); len(got) != 0 {
		t.Errorf("reinstated %v, an overturned record", got)
	}
	f, err := svc.File(ctx, admin, "zhao", "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Records {
		if r.ID == derived && (r.Counting || r.Status != socred.RecordOverturned) {
			t.Errorf("the derived record: counting %v, status %s", r.Counting, r.Status)
		}
	}
}
