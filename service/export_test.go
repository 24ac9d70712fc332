package service_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// The export answers article 15: purposes, sources, recipients, retention
// and the logic behind the subject's standing; only the subject and the
// admin may have it, and the admin's export shows in the file.
func TestExport(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	if _, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "loan-1", Subject: "wang", Scheme: "rongcheng", Rule: "loan-default", OccurredAt: t0, Evidence: "contract 4471"}}); err != nil {
		t.Fatal(err)
	}
	allowed(t, svc, "wang", "ride-high-speed-train") // a denied check: the railway was told
	wang := &socred.Caller{Token: &socred.Token{ID: "w", Role: socred.RoleSubject, Subject: "wang", Name: "wang"}}
	if err := svc.SetContact(ctx, wang, socred.Contact{Subject: "wang", Email: "wang@example.cn"}); err != nil {
		t.Fatal(err)
	}

	// An entry that ended and an appeal are in the export too.
	if _, err := svc.Designate(ctx, admin, "judgment-defaulters", service.DesignationInput{Subject: "wang", Reason: "unpaid judgment"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Undesignate(ctx, admin, "judgment-defaulters", "wang", "designated in error"); err != nil {
		t.Fatal(err)
	}
	recs, _ := svc.File(ctx, wang, "wang", "")
	if _, err := svc.FileAppeal(ctx, wang, service.AppealInput{Record: recs.Records[0].ID, Statement: "the loan was repaid"}); err != nil {
		t.Fatal(err)
	}

	x, err := svc.Export(ctx, wang, "wang")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.PastListings) != 1 || x.PastListings[0].List != "judgment-defaulters" || x.PastListings[0].EndReason != "designated in error" ||
		len(x.Appeals) != 1 || x.Repairs == nil {
		t.Errorf("past listings %+v, appeals %+v, repairs %v", x.PastListings, x.Appeals, x.Repairs)
	}
	ids := func(ps []service.Purpose) (out []string) {
		for _, p := range ps {
			out = append(out, p.Kind+":"+p.ID)
		}
		return out
	}
	if got := ids(x.Purposes); !slices.Contains(got, "scheme:rongcheng") || !slices.Contains(got, "list:rongcheng-blacklist") || !slices.Contains(got, "list:judgment-defaulters") {
		t.Errorf("purposes: got %v, want the rongcheng scheme and blacklist", got)
	}
	for _, p := range x.Purposes {
		if p.LegalBasis == "" || p.Authority == "" {
			t.Errorf("purpose %+v lacks its legal basis or authority", p)
		}
	}
	if len(x.Records) != 1 || x.Records[0].Source != "rongcheng-credit-office" || x.Records[0].Evidence != "contract 4471" || x.Records[0].CountsUntil.IsZero() ||
		!x.Records[0].PurgeAfter.Equal(x.Records[0].CountsUntil.AddDate(1, 0, 0)) {
		t.Errorf("records: got %+v", x.Records)
	}
	if len(x.Recipients.Checks) != 1 || x.Recipients.Checks[0].By != "railway" || x.Recipients.Checks[0].Allowed {
		t.Errorf("recipients' checks: got %+v", x.Recipients.Checks)
	}
	if len(x.Notices) < 2 || x.Contact == nil || x.Contact.Email != "wang@example.cn" {
		t.Errorf("notices %d, contact %+v", len(x.Notices), x.Contact)
	}
	if len(x.Logic.Schemes) != 1 || len(x.Logic.Schemes[0].Rules) == 0 || len(x.Logic.Lists) == 0 {
		t.Fatalf("logic: got %+v", x.Logic)
	}
	var black *service.ExportList
	for i := range x.Logic.Lists {
		if x.Logic.Lists[i].ID == "rongcheng-blacklist" {
			black = &x.Logic.Lists[i]
		}
	}
	if black == nil || !strings.Contains(black.When, "score") || len(black.Measures) == 0 {
		t.Errorf("the blacklist's logic: got %+v", black)
	}

	zhao := &socred.Caller{Token: &socred.Token{ID: "z", Role: socred.RoleSubject, Subject: "zhao", Name: "zhao"}}
	if _, err := svc.Export(ctx, zhao, "wang"); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("zhao exporting wang's file: got %v, want forbidden", err)
	}
	reviewer := &socred.Caller{Token: &socred.Token{ID: "r", Role: socred.RoleReviewer, Name: "review board"}}
	if _, err := svc.Export(ctx, reviewer, "wang"); socred.ErrorCode(err) != socred.EFORBIDDEN {
		t.Errorf("a reviewer exporting: got %v, want forbidden", err)
	}
	if _, err := svc.Export(ctx, admin, "wang"); err != nil {
		t.Fatal(err)
	}
	f, err := svc.File(ctx, wang, "wang", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Accesses) != 1 || f.Accesses[0].By != "admin" || !strings.Contains(f.Accesses[0].Purpose, "export") {
		t.Fatalf("accesses after the admin's export: got %+v", f.Accesses)
	}
	// The read is in the audit log, and its receipt proves it.
	if f.Accesses[0].LogIndex == nil {
		t.Fatal("the admin's export has no receipt")
	}
	if rep, err := service.VerifyLog(ctx, store); err != nil || rep.Accesses != 1 {
		t.Errorf("verify: %+v, %v; want the one read hashed again", rep, err)
	}
	proof, err := svc.AuditProof(ctx, *f.Accesses[0].LogIndex, 0)
	if err != nil || proof.Leaf.Kind != "access" {
		t.Errorf("the read's entry: %+v, %v", proof, err)
	}
}
