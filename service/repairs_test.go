package service_test

import (
	"path/filepath"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// Acme performs its obligation and applies to leave the court's list by
// that route; the court's own reviewer may not decide, the review board
// approves, and acme — with its legal representative — is off the list at
// once, and told.
func TestCreditRepair(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	acme := &socred.Caller{Token: &socred.Token{ID: "acme-tok", Role: socred.RoleSubject, Subject: "acme", Name: "acme"}}
	for _, tc := range []struct {
		in   service.RepairInput
		code string
	}{
		{service.RepairInput{List: "judgment-defaulters", Route: "training", Evidence: []string{"x"}}, socred.EINVALID},
		{service.RepairInput{List: "judgment-defaulters", Route: "obligation-performed"}, socred.EINVALID},
		{service.RepairInput{List: "rongcheng-blacklist", Route: "obligation-performed", Evidence: []string{"x"}}, socred.EINVALID},
		{service.RepairInput{Subject: "wang", List: "judgment-defaulters", Route: "obligation-performed", Evidence: []string{"x"}}, socred.EFORBIDDEN},
	} {
		if _, err := svc.ApplyRepair(ctx, acme, tc.in); socred.ErrorCode(err) != tc.code {
			t.Errorf("apply %+v: got %v, want %s", tc.in, err, tc.code)
		}
	}
	// Not before a month on the list (the pack's repair_after).
	early := service.RepairInput{List: "judgment-defaulters", Route: "obligation-performed", Evidence: []string{"receipt"}}
	if _, err := svc.ApplyRepair(ctx, acme, early); socred.ErrorCode(err) != socred.EINVALID {
		t.Errorf("an application after a day: got %v, want invalid", err)
	}
	c.Set(t0.AddDate(0, 2, 0))
	r, err := svc.ApplyRepair(ctx, acme, service.RepairInput{List: "judgment-defaulters", Route: "obligation-performed",
		Evidence: []string{"enforcement court receipt (2026) Lu 1082 Zhi 77-3"}, Statement: "The judgment is paid in full."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ApplyRepair(ctx, acme, service.RepairInput{List: "judgment-defaulters", Route: "obligation-performed", Evidence: []string{"again"}}); socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("a second pending application: got %v, want conflict", err)
	}
	court := &socred.Caller{Token: &socred.Token{ID: "r-court", Role: socred.RoleReviewer, Authority: "spc", Name: "court review"}}
	if _, err := svc.DecideRepair(ctx, court, r.ID, service.RepairDecisionInput{Decision: socred.RepairApproved, Reasons: "paid"}); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("the listing authority's reviewer: got %v, want forbidden", err)
	}
	if allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Fatal("before the decision: wang, acme's representative, may fly")
	}
	board := &socred.Caller{Token: &socred.Token{ID: "r-board", Role: socred.RoleReviewer, Name: "review board"}}
	d, err := svc.DecideRepair(ctx, board, r.ID, service.RepairDecisionInput{Decision: socred.RepairApproved, Reasons: "The receipt shows the judgment paid."})
	if err != nil || d.Status != socred.RepairApproved {
		t.Fatalf("decide: %+v, %v", d, err)
	}
	if !allowed(t, svc, "wang", "buy-flight-ticket") {
		t.Error("after the approval: wang may not fly")
	}
	if es, _ := svc.ListEntries(ctx, admin, "judgment-defaulters", socred.Page{}); len(es) != 0 {
		t.Errorf("the list still holds %v", es)
	}
	f, err := svc.File(ctx, acme, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	kinds := noticeKinds(f.Notices)
	if len(f.Repairs) != 1 || f.Repairs[0].Status != socred.RepairApproved || !kinds[service.NoticeRepairDecided] || !kinds[socred.NoticeKind(socred.EventDelisted)] {
		t.Errorf("acme's file: repairs %+v, notices %+v", f.Repairs, f.Notices)
	}
	if _, err := svc.DecideRepair(ctx, board, r.ID, service.RepairDecisionInput{Decision: socred.RepairRejected, Reasons: "x"}); socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("deciding again: got %v, want conflict", err)
	}
	// Listed again, an application pending when the court ends the entry:
	// the court's reviewer still may not decide it.
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "acme", Reason: "another unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.AddDate(0, 4, 0))
	r2, err := svc.ApplyRepair(ctx, acme, service.RepairInput{List: "judgment-defaulters", Route: "obligation-performed", Evidence: []string{"receipt 2"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Undesignate(ctx, admin, "judgment-defaulters", "acme", "paid"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DecideRepair(ctx, court, r2.ID, service.RepairDecisionInput{Decision: socred.RepairApproved, Reasons: "paid"}); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("the listing authority's reviewer, the entry ended: got %v, want forbidden", err)
	}
	if _, err := svc.DecideRepair(ctx, board, r2.ID, service.RepairDecisionInput{Decision: socred.RepairApproved, Reasons: "paid"}); err != nil {
		t.Errorf("the board, the entry ended: %v", err)
	}
}
