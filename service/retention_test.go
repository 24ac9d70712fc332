package service_test

import (
	"path/filepath"
	"testing"

	"github.com/socred/socred"
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
	// The reporter replaying the batch still gets a duplicate.
	again, err := svc.SubmitRecords(ctx, admin, in[:1])
	if err != nil || again[0].Status != "duplicate" || again[0].ID != res[0].ID {
		t.Errorf("replay after the purge: %+v %v", again, err)
	}
}
