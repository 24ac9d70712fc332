package api_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// TestDueProcessOverHTTP runs notices, appeals, credit repair, contacts
// and the export over HTTP on the real SQLite store, every answer
// validated against the OpenAPI document.
func TestDueProcessOverHTTP(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixtureOn(t, store)

	// li defaults; zhang, her guarantor, is liable, blacklisted, and told.
	var out struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("loan-1", "li", "loan-default"))).decode(&out)
	var file service.File
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if len(file.Notices) == 0 || file.Notices[0].Kind != socred.NoticeRecordDerived || len(file.Listings) == 0 {
		t.Fatalf("zhang's file: notices %+v, listings %+v", file.Notices, file.Listings)
	}

	// zhang gives an address; li may not set it for him.
	f.must(403, "PUT", "/v1/subjects/zhang/contact", asOtherSubject, map[string]string{"email": "li@example.cn"})
	f.must(400, "PUT", "/v1/subjects/zhang/contact", asSubject, map[string]string{"email": "not an address"})
	f.must(200, "PUT", "/v1/subjects/zhang/contact", asSubject, map[string]string{"email": "zhang@example.cn"})

	// li appeals the default; zhang may not appeal li's record.
	f.must(400, "POST", "/v1/appeals", asSubject, map[string]string{"record": out.Records[0].ID, "statement": "not mine"})
	var ap socred.Appeal
	f.must(201, "POST", "/v1/appeals", asOtherSubject, map[string]string{"record": out.Records[0].ID, "statement": "repaid on time, receipt 8812"}).decode(&ap)
	f.must(409, "POST", "/v1/appeals", asOtherSubject, map[string]string{"record": out.Records[0].ID, "statement": "again"})
	f.must(200, "GET", "/v1/subjects/li/file", asOtherSubject, nil).decode(&file)
	if len(file.Appeals) != 1 || file.Records[0].Status != socred.RecordContested {
		t.Errorf("li's file while the appeal is open: appeals %+v, status %s", file.Appeals, file.Records[0].Status)
	}
	// The reviewers' queue holds it; li reads her appeal, zhang may not.
	var queue struct{ Appeals []socred.Appeal }
	f.must(200, "GET", "/v1/appeals", asReviewer, nil).decode(&queue)
	if len(queue.Appeals) != 1 || queue.Appeals[0].ID != ap.ID || queue.Appeals[0].Statement != "repaid on time, receipt 8812" {
		t.Errorf("the queue: %+v", queue.Appeals)
	}
	f.must(200, "GET", "/v1/appeals/"+ap.ID, asOtherSubject, nil)
	f.must(403, "GET", "/v1/appeals/"+ap.ID, asSubject, nil)
	f.must(404, "GET", "/v1/appeals/apl-none", asReviewer, nil)
	f.must(403, "POST", "/v1/appeals/"+ap.ID+"/decision", asAuthority, map[string]string{"decision": "overturned", "reasons": "x"})
	f.must(400, "POST", "/v1/appeals/"+ap.ID+"/decision", asReviewer, map[string]string{"decision": "overturned"})
	f.must(200, "POST", "/v1/appeals/"+ap.ID+"/decision", asReviewer, map[string]string{"decision": "overturned", "reasons": "the receipt shows it paid"}).decode(&ap)
	f.must(409, "POST", "/v1/appeals/"+ap.ID+"/decision", asReviewer, map[string]string{"decision": "upheld", "reasons": "x"})
	f.must(200, "GET", "/v1/appeals", asReviewer, nil).decode(&queue)
	var got socred.Appeal
	f.must(200, "GET", "/v1/appeals/"+ap.ID, asReviewer, nil).decode(&got)
	if len(queue.Appeals) != 0 || got.Status != socred.AppealOverturned || got.Reasons != "the receipt shows it paid" {
		t.Errorf("decided: the queue %+v, the appeal %+v", queue.Appeals, got)
	}
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if ap.Status != socred.AppealOverturned || len(file.Listings) != 0 || file.Scores[0].Score != 1000 {
		t.Errorf("after the appeal: %+v; zhang's listings %+v, score %d", ap, file.Listings, file.Scores[0].Score)
	}

	// Credit repair of a designated entry.
	f.must(201, "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "zhang", "reason": "unpaid judgment"})
	f.must(400, "POST", "/v1/repairs", asSubject, map[string]any{"list": "defaulters", "route": "wishful-thinking", "evidence": []string{"x"}})
	var rp socred.Repair
	f.must(201, "POST", "/v1/repairs", asSubject, map[string]any{"list": "defaulters", "route": "obligation-performed", "evidence": []string{"court receipt 77-3"}}).decode(&rp)
	var pending struct{ Repairs []socred.Repair }
	f.must(200, "GET", "/v1/repairs?limit=10", asReviewer, nil).decode(&pending)
	if len(pending.Repairs) != 1 || pending.Repairs[0].ID != rp.ID {
		t.Errorf("pending repairs: %+v", pending.Repairs)
	}
	f.must(200, "GET", "/v1/repairs/"+rp.ID, asSubject, nil)
	f.must(403, "GET", "/v1/repairs/"+rp.ID, asOtherSubject, nil)
	f.must(400, "GET", "/v1/repairs?limit=0", asReviewer, nil)
	f.must(200, "POST", "/v1/repairs/"+rp.ID+"/decision", asReviewer, map[string]string{"decision": "approved", "reasons": "paid"}).decode(&rp)
	var d socred.Decision
	f.must(200, "POST", "/v1/checks", asProvider, map[string]string{"subject": "zhang", "action": "buy-flight"}).decode(&d)
	if rp.Status != socred.RepairApproved || !d.Allowed {
		t.Errorf("after the repair: %+v, check %+v", rp, d)
	}

	// zhang's export, and no one else's.
	f.must(403, "GET", "/v1/subjects/zhang/export", asOtherSubject, nil)
	f.must(403, "GET", "/v1/subjects/zhang/export", asReviewer, nil)
	var x service.Export
	res := f.must(200, "GET", "/v1/subjects/zhang/export", asSubject, nil)
	res.decode(&x)
	if x.Contact == nil || x.Contact.Email != "zhang@example.cn" || len(x.Records) != 1 || len(x.Recipients.Checks) != 1 || len(x.Logic.Schemes) != 1 || len(x.Purposes) == 0 {
		t.Errorf("export: contact %+v, records %d, checks %d, logic %+v, purposes %+v", x.Contact, len(x.Records), len(x.Recipients.Checks), x.Logic, x.Purposes)
	}
}

// testClock is a settable clock for the service under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestDeadlinesOverHTTP moves an injectable clock under the HTTP API: a
// one-month designation from 31 January ends on 29 February of a leap year,
// an appeal filed too late is refused, and a review not decided in time
// suspends the record's effect, which the scheduler applies by itself.
func TestDeadlinesOverHTTP(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := &testClock{t: time.Date(2028, 1, 31, 10, 0, 0, 0, time.UTC)}
	f := newFixtureAt(t, store, clock.Now)
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 2 s", what)
			}
		}
	}
	var l socred.Listing
	f.must(201, "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "acme-co", "reason": "unpaid", "term": "1mo"}).decode(&l)
	if want := time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC); l.Until == nil || !l.Until.Equal(want) {
		t.Fatalf("until: got %v, want %v", l.Until, want)
	}
	onList := func() bool {
		var es struct{ Entries []socred.Listing }
		f.must(200, "GET", "/v1/lists/defaulters/entries", asAuditor, nil).decode(&es)
		return len(es.Entries) == 1
	}
	clock.Set(time.Date(2028, 2, 29, 9, 59, 0, 0, time.UTC))
	time.Sleep(50 * time.Millisecond)
	if !onList() {
		t.Fatal("off the list before the end of 29 February's term")
	}
	clock.Set(time.Date(2028, 2, 29, 10, 0, 1, 0, time.UTC))
	eventually("the term's end", func() bool { return !onList() })

	// li's default and a red light; she appeals the default the next day,
	// in time; appealing the red light 31 days on is too late; the
	// default's review is not decided within 30 days.
	var out struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("loan-1", "li", "loan-default"), record("red-1", "li", "red-light"))).decode(&out)
	accepted := clock.Now()
	clock.Set(accepted.AddDate(0, 0, 1))
	var ap socred.Appeal
	f.must(201, "POST", "/v1/appeals", asOtherSubject, map[string]string{"record": out.Records[0].ID, "statement": "repaid"}).decode(&ap)
	denied := func() bool {
		var d socred.Decision
		f.must(200, "POST", "/v1/checks", asTrainProvider, map[string]string{"subject": "zhang", "action": "ride-train"}).decode(&d)
		return !d.Allowed
	}
	if !denied() {
		t.Fatal("zhang, li's guarantor, may ride before the review is overdue")
	}
	clock.Set(accepted.AddDate(0, 0, 31))
	f.must(400, "POST", "/v1/appeals", asOtherSubject, map[string]string{"record": out.Records[1].ID, "statement": "late"})
	clock.Set(ap.ReviewDue.Add(time.Second))
	eventually("the suspension", func() bool { return !denied() })
	f.must(200, "POST", "/v1/appeals/"+ap.ID+"/decision", asReviewer, map[string]string{"decision": "upheld", "reasons": "the record stands"})
	if !denied() {
		t.Error("upheld after the suspension: zhang may ride")
	}
}
