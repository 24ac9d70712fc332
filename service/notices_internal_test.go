package service

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/pack"
	"github.com/socred/socred/packs"
	"github.com/socred/socred/sqlite"
)

// addNotices gives each record a notice, the notice of a subject's only
// record in the write carrying its subject's events, and the events of
// subjects with several records or none notices of their own, encoded as
// EncodeNotice encodes them: the same notices as adding each event in turn
// to a notice made alone, also when a subject's events are not side by
// side. (A record's notice never claims the change several records made.)
func TestAddNoticesMatchesOneEventAtATime(t *testing.T) {
	p := examplePack(t)
	score := func(subject string, from, to int64) socred.Event {
		return socred.Event{Kind: socred.EventScoreChanged, Subject: subject, At: noticeAt, Scheme: "rongcheng", OldScore: from, NewScore: to}
	}
	listed := socred.Event{Kind: socred.EventListed, Subject: "a", At: noticeAt,
		Listing: &socred.Listing{List: "rongcheng-blacklist", Subject: "a", Since: noticeAt}}
	w := &socred.Write{
		Records: []*socred.Record{noticeRecord("1", "a", "blood-donation"), noticeRecord("2", "b", "no-such-rule"), noticeRecord("3", "a", "blood-donation")},
		Events: []socred.Event{score("a", 1000, 1010), score("c", 990, 980), score("b", 1000, 1005), listed,
			{Kind: socred.EventGradeChanged, Subject: "c", At: noticeAt, Scheme: "rongcheng", OldGrade: "A", NewGrade: "B"}},
	}
	// The reference: notices made alone, each event added in turn.
	var want []socred.Notice
	last, records := map[string]int{}, map[string]int{}
	for _, r := range w.Records {
		name := ""
		if rule := p.Scheme(r.Scheme).Rule(r.Rule); rule != nil {
			name = rule.Name
		}
		last[r.Subject] = len(want)
		records[r.Subject]++
		want = append(want, socred.RecordNotice(r, name))
	}
	for _, e := range w.Events {
		if i, ok := last[e.Subject]; ok && records[e.Subject] == 1 {
			want[i] = want[i].WithEvents(e)
		} else {
			want = append(want, socred.EventNotice(e))
		}
	}
	s := &Service{pack: p}
	s.addNotices(w)
	if !reflect.DeepEqual(w.Notices, want) {
		t.Fatalf("notices\n%+v\nwant\n%+v", w.Notices, want)
	}
	if len(w.NoticeBodies) != len(want) {
		t.Fatalf("%d bodies for %d notices", len(w.NoticeBodies), len(want))
	}
	for i := range want {
		body, err := socred.EncodeNotice(want[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.NoticeBodies[i], body) {
			t.Errorf("body %d\n%s\nwant\n%s", i, w.NoticeBodies[i], body)
		}
	}
	if len(w.Notices[1].Events) != 1 || len(w.Notices[0].Events)+len(w.Notices[2].Events) != 0 {
		t.Errorf("b's one record's notice carries %d events, a's two records' %d and %d; want b's score, and none on a's",
			len(w.Notices[1].Events), len(w.Notices[0].Events), len(w.Notices[2].Events))
	}
	if len(w.Notices) != 7 || w.Notices[3].Kind != socred.NoticeKind(socred.EventScoreChanged) || w.Notices[3].Subject != "a" {
		t.Errorf("a's score change in a notice of its own: got %+v", w.Notices)
	}
}

// With a store that keeps records' leads once (socred.LeadKeeper, as
// SQLite does), the service encodes with the store's leads, and each write
// names every lead its bodies name, once, also a lead an earlier write
// named: the store keeps it in the transaction of whichever commits.
func TestAddNoticesNamesLeads(t *testing.T) {
	p := examplePack(t)
	score := func(subject string) socred.Event {
		return socred.Event{Kind: socred.EventScoreChanged, Subject: subject, At: noticeAt, Scheme: "rongcheng", OldScore: 1000, NewScore: 1005}
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	s, err := New(store, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.leads == nil || s.leads != store.NoticeLeads() {
		t.Fatal("the service does not encode with the SQLite store's leads")
	}
	for round := range 2 {
		w := &socred.Write{
			Records: []*socred.Record{noticeRecord("1", "a", "blood-donation"), noticeRecord("2", "b", "blood-donation"), noticeRecord("3", "c", "charity-donation")},
			Events:  []socred.Event{score("a"), score("b"), score("c")},
		}
		s.addNotices(w)
		if len(w.NoticeLeads) != 2 || w.NoticeLeads[0].Ref == w.NoticeLeads[1].Ref {
			t.Fatalf("round %d: leads %+v, want the two rules' once each", round, w.NoticeLeads)
		}
		kept := socred.NewNoticeLeads(w.NoticeLeads...)
		for i, n := range w.Notices {
			got, err := kept.Decode(0, n.Subject, n.At, w.NoticeBodies[i])
			if err != nil {
				t.Fatal(err)
			}
			if got.Message != n.Message || !bytes.Contains(w.NoticeBodies[i], []byte(`"lead_ref":`)) {
				t.Errorf("round %d: body %s reads back %q, want %q", round, w.NoticeBodies[i], got.Message, n.Message)
			}
		}
	}
}

// examplePack loads the example pack.
func examplePack(t *testing.T) *socred.Pack {
	t.Helper()
	p, probs, err := pack.Load(packs.Example)
	if err != nil || p == nil {
		t.Fatalf("example pack: %v %v", err, probs)
	}
	return p
}

// noticeAt is the time of the notices tests' records and events.
var noticeAt = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// noticeRecord is a record of rongcheng-credit-office about subject under
// rule, +5 points.
func noticeRecord(id, subject, rule string) *socred.Record {
	return &socred.Record{ID: id, Reporter: "rongcheng-credit-office", Subject: subject, Scheme: "rongcheng", Rule: rule,
		Points: 5, OccurredAt: noticeAt, AcceptedAt: noticeAt}
}
