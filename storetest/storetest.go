// Package storetest is the conformance suite every socred.Store must pass.
// A store's tests call Run with a function that opens an empty store.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socred/socred"
)

// Opener returns a new, empty store; the suite closes it.
type Opener func(t *testing.T) socred.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s socred.Store)
	}{
		{"Subjects", testSubjects},
		{"Relations", testRelations},
		{"Records", testRecords},
		{"RecordKeyConflict", testRecordKeyConflict},
		{"WriteIsAtomic", testWriteIsAtomic},
		{"ReserveIDs", testReserveIDs},
		{"Designations", testDesignations},
		{"Listings", testListings},
		{"ChecksAndAccesses", testChecksAndAccesses},
		{"Expiry", testExpiry},
		{"Register", testRegister},
		{"Tokens", testTokens},
		{"Load", testLoad},
		{"Feed", testFeed},
		{"Notices", testNotices},
		{"Contacts", testContacts},
		{"Purges", testPurges},
		{"DesignationPurges", testDesignationPurges},
		{"Appeals", testAppeals},
		{"Repairs", testRepairs},
		{"AuditKeys", testAuditKeys},
		{"Audit", testAudit},
		{"Checkpoints", testCheckpoints},
		{"Sessions", testSessions},
		{"Console", testConsole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
)

func commit(t *testing.T, s socred.Store, w *socred.Write) {
	t.Helper()
	if w.Now.IsZero() {
		w.Now = t0
	}
	if err := s.Commit(ctx, w); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func person(id string, groups ...string) *socred.Subject {
	if groups == nil {
		groups = []string{}
	}
	return &socred.Subject{ID: id, Kind: socred.Person, Name: "Name of " + id, Region: "rongcheng", Groups: groups}
}

func record(id int64, key, subject string, at time.Time) *socred.Record {
	return &socred.Record{
		ID: strconv.FormatInt(id, 10), Key: key, Subject: subject, Scheme: "city", Rule: "red-light", Points: -5,
		OccurredAt: at, CountsUntil: at.AddDate(1, 0, 0), Reporter: "city", Evidence: "camera 7", AcceptedAt: at.Add(time.Minute),
	}
}

func testSubjects(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("zhang", "taxi-driver"), person("li")}})
	got, err := s.Subject(ctx, "zhang")
	if err != nil {
		t.Fatal(err)
	}
	if want := person("zhang", "taxi-driver"); got.ID != want.ID || got.Kind != want.Kind || got.Name != want.Name || got.Region != want.Region || !slices.Equal(got.Groups, want.Groups) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	upd := person("zhang")
	upd.Name, upd.Region = "Zhang Wei", "weihai"
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{upd}})
	if got, _ := s.Subject(ctx, "zhang"); got.Name != "Zhang Wei" || got.Region != "weihai" || len(got.Groups) != 0 {
		t.Errorf("after update: got %+v", got)
	}
	if _, err := s.Subject(ctx, "nobody"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("unknown subject: got %v, want not_found", err)
	}
	// Who registered a subject is kept, and an update does not change it.
	reg := person("reg")
	reg.RegisteredBy = "city"
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{reg}})
	upd = person("reg")
	upd.Name, upd.RegisteredBy = "Registered", "someone else"
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{upd}})
	if got, _ := s.Subject(ctx, "reg"); got == nil || got.RegisteredBy != "city" || got.Name != "Registered" {
		t.Errorf("registered subject after update: got %+v, want registered by city", got)
	}
}

func testRelations(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b"), person("c")}})
	commit(t, s, &socred.Write{Relate: []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}, {From: "c", Type: "guarantor-of", To: "a"}}})
	commit(t, s, &socred.Write{Relate: []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}}}) // again: no error
	got, err := s.Relations(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	want := []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}, {From: "c", Type: "guarantor-of", To: "a"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	commit(t, s, &socred.Write{Unrelate: []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}}})
	if got, _ := s.Relations(ctx, "b"); len(got) != 0 {
		t.Errorf("after unrelate: got %v", got)
	}
}

func testRecords(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("li"), person("zhang")}})
	r1 := record(10, "k1", "li", t0)
	r1.Rule, r1.Points, r1.CountsUntil = "loan-default", -50, t0.AddDate(5, 0, 0)
	d := record(11, "", "zhang", t0)
	d.Rule, d.Points, d.CountsUntil = "loan-default", -30, t0.AddDate(5, 0, 0)
	d.DerivedFrom = &socred.Derivation{Record: "10", Subject: "li", Relation: "guarantor-of"}
	r2 := record(12, "k2", "li", t0.Add(time.Hour))
	commit(t, s, &socred.Write{Records: []*socred.Record{r1, d, r2}})

	got, err := s.SubjectRecords(ctx, "li")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "10" || got[1].ID != "12" {
		t.Fatalf("li's records: got %+v, want ids 10, 12", got)
	}
	g := got[0]
	if g.Key != "k1" || g.Subject != "li" || g.Scheme != "city" || g.Rule != "loan-default" || g.Points != -50 ||
		!g.OccurredAt.Equal(r1.OccurredAt) || !g.CountsUntil.Equal(r1.CountsUntil) || !g.AcceptedAt.Equal(r1.AcceptedAt) ||
		g.Reporter != "city" || g.Evidence != "camera 7" || g.DerivedFrom != nil || g.Overturned {
		t.Errorf("record round trip: got %+v, want %+v", g, r1)
	}
	zs, _ := s.SubjectRecords(ctx, "zhang")
	if len(zs) != 1 || zs[0].DerivedFrom == nil || *zs[0].DerivedFrom != *d.DerivedFrom || zs[0].Key != "" || zs[0].Points != -30 {
		t.Errorf("derived record: got %+v", zs)
	}
	byKey, err := s.RecordsByKey(ctx, "city", []string{"k1", "k2", "k3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey) != 2 || byKey["k1"].ID != "10" || byKey["k2"].ID != "12" {
		t.Errorf("by key: got %v", byKey)
	}
	if other, _ := s.RecordsByKey(ctx, "court", []string{"k1"}); len(other) != 0 {
		t.Errorf("keys are per reporter: got %v for another reporter", other)
	}
	// Many keys at once.
	var recs []*socred.Record
	var keys []string
	for i := range 1500 {
		k := "bulk-" + strconv.Itoa(i)
		recs = append(recs, record(int64(100+i), k, "zhang", t0))
		keys = append(keys, k)
	}
	commit(t, s, &socred.Write{Records: recs})
	if byKey, _ := s.RecordsByKey(ctx, "city", keys); len(byKey) != 1500 {
		t.Errorf("1500 keys: got %d records", len(byKey))
	}
	if zs, _ := s.SubjectRecords(ctx, "zhang"); len(zs) != 1501 {
		t.Errorf("zhang: got %d records, want 1501", len(zs))
	}
}

func testRecordKeyConflict(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("li")}})
	commit(t, s, &socred.Write{Records: []*socred.Record{record(1, "k1", "li", t0)}})
	err := s.Commit(ctx, &socred.Write{Now: t0, Records: []*socred.Record{record(2, "k1", "li", t0)}})
	if socred.ErrorCode(err) != socred.ECONFLICT {
		t.Errorf("same reporter and key again: got %v, want conflict", err)
	}
	r := record(3, "k1", "li", t0)
	r.Reporter = "court"
	commit(t, s, &socred.Write{Records: []*socred.Record{r}}) // another reporter may use the key
}

func testWriteIsAtomic(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("li")}, Records: []*socred.Record{record(1, "k1", "li", t0)}})
	var recs []*socred.Record
	for i := range 500 {
		recs = append(recs, record(int64(10+i), "n"+strconv.Itoa(i), "li", t0))
	}
	recs = append(recs, record(999, "k1", "li", t0)) // conflicts with a stored key
	err := s.Commit(ctx, &socred.Write{Now: t0, Subjects: []*socred.Subject{person("wang")}, Records: recs,
		Checks: []socred.CheckEntry{{Subject: "li", At: t0, By: "railway", Action: "ride"}}})
	if err == nil {
		t.Fatal("a write with a conflicting key succeeded")
	}
	if got, _ := s.SubjectRecords(ctx, "li"); len(got) != 1 {
		t.Errorf("after a failed write li has %d records, want 1", len(got))
	}
	if _, err := s.Subject(ctx, "wang"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("after a failed write: subject wang %v, want not_found", err)
	}
	if cs, _ := s.Checks(ctx, "li", socred.Page{}); len(cs) != 0 {
		t.Errorf("after a failed write: %d checks", len(cs))
	}
}

func testReserveIDs(t *testing.T, s socred.Store) {
	a, err := s.ReserveIDs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.ReserveIDs(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if a < 1 || b < a+10 {
		t.Errorf("reservations overlap: [%d, %d) then %d", a, a+10, b)
	}
}

func designation(id, list, subject string, since time.Time, term time.Duration) *socred.Designation {
	return &socred.Designation{ID: id, List: list, Subject: subject, Authority: "court", Reason: "refuses to pay",
		Case: "(2026) case " + id, Since: since, Until: since.Add(term)}
}

func testDesignations(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("acme")}})
	d := designation("d1", "defaulters", "acme", t0, 48*time.Hour)
	commit(t, s, &socred.Write{Designations: []*socred.Designation{d}})
	got, err := s.ActiveDesignation(ctx, "defaulters", "acme", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "d1" || got.Reason != d.Reason || got.Case != d.Case || !got.Since.Equal(d.Since) || !got.Until.Equal(d.Until) || got.EndedAt != nil || got.Authority != "court" {
		t.Errorf("got %+v, want %+v", got, d)
	}
	if _, err := s.ActiveDesignation(ctx, "defaulters", "acme", t0.Add(49*time.Hour)); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("after the term: got %v, want not_found", err)
	}
	// Extended: the same designation with a later end, and its reason and
	// case as the extension left them.
	ext := *d
	ext.Until, ext.Reason, ext.Case = d.Until.Add(24*time.Hour), d.Reason+"; extended: a second judgment", "case 2"
	commit(t, s, &socred.Write{Designations: []*socred.Designation{&ext}})
	got, err = s.ActiveDesignation(ctx, "defaulters", "acme", t0.Add(49*time.Hour))
	if err != nil || got.Reason != ext.Reason || got.Case != ext.Case || !got.Until.Equal(ext.Until) || !got.Since.Equal(d.Since) {
		t.Errorf("extended: got %+v, %v; want %+v", got, err, ext)
	}
	d = &ext
	ended := *d
	at := t0.Add(2 * time.Hour)
	ended.EndedAt, ended.EndReason = &at, "paid"
	commit(t, s, &socred.Write{Designations: []*socred.Designation{&ended}})
	if _, err := s.ActiveDesignation(ctx, "defaulters", "acme", t0.Add(3*time.Hour)); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("after removal: got %v, want not_found", err)
	}
	all, _ := s.SubjectDesignations(ctx, "acme")
	if len(all) != 1 || all[0].EndedAt == nil || !all[0].EndedAt.Equal(at) || all[0].EndReason != "paid" {
		t.Errorf("history: got %+v", all)
	}
	// By id, as it was last written, field for field.
	byID, err := s.Designation(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(byID, all[0]) || byID.Reason != ext.Reason || byID.Case != ext.Case {
		t.Errorf("by id: got %+v, %v; want %+v", byID, err, all[0])
	}
	if _, err := s.Designation(ctx, "no-such"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("an unknown id: got %v, want not_found", err)
	}
}

func listed(kind socred.EventKind, subject, list, desig string, since time.Time, until *time.Time, at time.Time) socred.Event {
	return socred.Event{Kind: kind, Subject: subject, At: at, Listing: &socred.Listing{
		List: list, Kind: socred.Black, Subject: subject, Since: since, Until: until, Reason: "why", Designation: desig,
		Authority: "city", LegalBasis: "art. 1",
	}}
}

func testListings(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b"), person("c")}})
	until := t0.Add(72 * time.Hour)
	ev := []socred.Event{
		listed(socred.EventListed, "a", "black", "", t0, nil, t0),
		listed(socred.EventListed, "b", "black", "", t0.Add(time.Hour), nil, t0.Add(time.Hour)),
		listed(socred.EventListed, "c", "defaulters", "d9", t0, &until, t0),
	}
	// A listing reaching a subject through a relation is not stored.
	via := listed(socred.EventListed, "c", "black", "", t0, nil, t0)
	via.Listing.Via = &socred.Via{Subject: "a", Relation: "legal-representative-of"}
	commit(t, s, &socred.Write{Events: append(ev, via)})
	commit(t, s, &socred.Write{Events: ev[:1]}) // applying an event twice changes nothing
	got, err := s.ListEntries(ctx, "black", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Subject != "a" || got[1].Subject != "b" || got[0].Reason != "why" || got[0].LegalBasis != "art. 1" || got[0].Until != nil {
		t.Errorf("black: got %+v, want a then b", got)
	}
	if page, _ := s.ListEntries(ctx, "black", socred.Page{Limit: 1, Offset: 1}); len(page) != 1 || page[0].Subject != "b" {
		t.Errorf("second page: got %+v", page)
	}
	later := t0.Add(96 * time.Hour)
	commit(t, s, &socred.Write{Events: []socred.Event{
		listed(socred.EventDelisted, "a", "black", "", t0, nil, t0.Add(5*time.Hour)),
		listed(socred.EventTermChanged, "c", "defaulters", "d9", t0, &later, t0.Add(5*time.Hour)),
	}})
	if got, _ := s.ListEntries(ctx, "black", socred.Page{}); len(got) != 1 || got[0].Subject != "b" {
		t.Errorf("after delisting a: got %+v", got)
	}
	if got, _ := s.ListEntries(ctx, "defaulters", socred.Page{}); len(got) != 1 || got[0].Until == nil || !got[0].Until.Equal(later) || got[0].Designation != "d9" {
		t.Errorf("after extension: got %+v", got)
	}
	// Re-listed after removal.
	commit(t, s, &socred.Write{Events: []socred.Event{listed(socred.EventListed, "a", "black", "", t0.Add(9*time.Hour), nil, t0.Add(9*time.Hour))}})
	if got, _ := s.ListEntries(ctx, "black", socred.Page{}); len(got) != 2 {
		t.Errorf("after re-listing a: got %+v", got)
	}
	// Ended entries are a's past listings, newest first, until when each
	// ended; a designated one ended early says why.
	d := designation("d9", "defaulters", "c", t0, 72*time.Hour)
	commit(t, s, &socred.Write{Designations: []*socred.Designation{d}})
	endAt := t0.Add(10 * time.Hour)
	ended := *d
	ended.EndedAt, ended.EndReason = &endAt, "obligation performed"
	commit(t, s, &socred.Write{Designations: []*socred.Designation{&ended}, Events: []socred.Event{
		listed(socred.EventDelisted, "a", "black", "", t0.Add(9*time.Hour), nil, t0.Add(11*time.Hour)),
		listed(socred.EventDelisted, "c", "defaulters", "d9", t0, &later, endAt),
	}})
	past, err := s.PastListings(ctx, "a", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(past) != 2 || !past[0].Since.Equal(t0.Add(9*time.Hour)) || past[0].Until == nil || !past[0].Until.Equal(t0.Add(11*time.Hour)) ||
		!past[1].Since.Equal(t0) || past[1].Until == nil || !past[1].Until.Equal(t0.Add(5*time.Hour)) || past[1].Reason != "why" || past[1].List != "black" {
		t.Errorf("a's past listings: got %+v, want the one ended at +11h, then the one ended at +5h", past)
	}
	if page, _ := s.PastListings(ctx, "a", socred.Page{Limit: 1, Offset: 1}); len(page) != 1 || !page[0].Until.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("a's past listings, second page: %+v", page)
	}
	if past, _ := s.PastListings(ctx, "b", socred.Page{}); len(past) != 0 {
		t.Errorf("b, still listed, has past listings %+v", past)
	}
	if past, _ := s.PastListings(ctx, "c", socred.Page{}); len(past) != 1 || past[0].Designation != "d9" || past[0].EndReason != "obligation performed" || !past[0].Until.Equal(endAt) {
		t.Errorf("c's past listings: got %+v, want d9 ended early, obligation performed", past)
	}
}

func testChecksAndAccesses(t *testing.T, s socred.Store) {
	var cs []socred.CheckEntry
	for i := range 5 {
		cs = append(cs, socred.CheckEntry{Subject: "zhang", At: t0.Add(time.Duration(i) * time.Minute), By: "railway booking",
			TokenID: "tok-1", Action: "ride-high-speed-train", Purpose: "ticket " + strconv.Itoa(i), Allowed: i%2 == 0})
	}
	cs = append(cs, socred.CheckEntry{Subject: "li", At: t0, By: "airline", Action: "buy-flight-ticket"})
	commit(t, s, &socred.Write{Checks: cs, Accesses: []socred.Access{
		{Subject: "zhang", At: t0, By: "court clerk", Role: socred.RoleAuthority, TokenID: "tok-2", Purpose: "case 7"},
		{Subject: "zhang", At: t0.Add(time.Hour), By: "reviewer 1", Role: socred.RoleReviewer, TokenID: "tok-3", Purpose: "appeal"},
	}})
	got, err := s.Checks(ctx, "zhang", socred.Page{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Purpose != "ticket 4" || got[2].Purpose != "ticket 2" || !got[0].Allowed || got[1].Allowed ||
		got[0].By != "railway booking" || got[0].Action != "ride-high-speed-train" || !got[0].At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("newest three checks: got %+v", got)
	}
	if next, _ := s.Checks(ctx, "zhang", socred.Page{Limit: 3, Offset: 3}); len(next) != 2 || next[1].Purpose != "ticket 0" {
		t.Errorf("next page: got %+v", next)
	}
	as, err := s.Accesses(ctx, "zhang", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].By != "reviewer 1" || as[0].Role != socred.RoleReviewer || as[1].Purpose != "case 7" {
		t.Errorf("accesses: got %+v", as)
	}
}

func testRegister(t *testing.T, s socred.Store) {
	acme := &socred.Subject{ID: "acme", Kind: socred.Organisation, Name: "Acme Trading Co.", Region: "rongcheng", Groups: []string{}}
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{acme, person("wang"), person("li")}})
	u1, u2 := t0.AddDate(2, 0, 0), t0.Add(24*time.Hour)
	commit(t, s, &socred.Write{Events: []socred.Event{
		listed(socred.EventListed, "acme", "defaulters", "d1", t0, &u1, t0),
		listed(socred.EventListed, "wang", "defaulters", "d2", t0.AddDate(0, 0, 9), &u1, t0),
		listed(socred.EventListed, "li", "defaulters", "d3", t0, &u2, t0),
		listed(socred.EventListed, "li", "black", "", t0, nil, t0),
	}})
	q := socred.RegisterQuery{Now: t0.AddDate(0, 0, 10), Lists: map[string]socred.Duration{"defaulters": socred.MustParseDuration("10d")}}
	names := func(es []socred.RegisterEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Subject)
		}
		return out
	}
	got, err := s.Register(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// wang's grace period has not passed; li's term has ended; black is not published.
	if want := []string{"acme"}; !slices.Equal(names(got), want) {
		t.Errorf("register: got %v, want %v", names(got), want)
	}
	if got[0].Name != "Acme Trading Co." || got[0].Case != "" && got[0].Case != "(2026) case d1" || !got[0].Since.Equal(t0) || got[0].Until == nil {
		t.Errorf("entry: got %+v", got[0])
	}
	q.Now = t0.AddDate(0, 0, 19)
	if got, _ := s.Register(ctx, q); !slices.Equal(names(got), []string{"wang", "acme"}) {
		t.Errorf("later: got %v, want [wang acme]", names(got))
	}
	q.Q = "trading"
	if got, _ := s.Register(ctx, q); !slices.Equal(names(got), []string{"acme"}) {
		t.Errorf("search \"trading\": got %v, want [acme]", names(got))
	}
	q.Q = "100%_"
	if got, _ := s.Register(ctx, q); len(got) != 0 {
		t.Errorf("search with wildcards: got %v, want none", names(got))
	}
	q.Q, q.Lists = "", map[string]socred.Duration{}
	if got, _ := s.Register(ctx, q); len(got) != 0 {
		t.Errorf("no published lists: got %v", names(got))
	}
}

func testTokens(t *testing.T, s socred.Store) {
	tok := &socred.Token{ID: "tok-1", Role: socred.RoleProvider, Actions: []string{"buy-flight-ticket"}, Name: "airline", Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: t0}
	commit(t, s, &socred.Write{Tokens: []*socred.Token{tok}})
	got, err := s.TokenByHash(ctx, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tok.ID || got.Role != tok.Role || got.Name != tok.Name || !slices.Equal(got.Actions, tok.Actions) || !got.CreatedAt.Equal(t0) {
		t.Errorf("got %+v, want %+v", got, tok)
	}
	if _, err := s.TokenByHash(ctx, []byte("nope")); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("unknown hash: got %v, want not_found", err)
	}
	if got, err := s.Token(ctx, "tok-1"); err != nil || got.Name != "airline" || got.RevokedAt != nil {
		t.Errorf("by id: got %+v, %v", got, err)
	}
	if _, err := s.Token(ctx, "tok-none"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("unknown id: got %v, want not_found", err)
	}
	// Revoked, and revoked again later: the first moment stays.
	at := t0.Add(time.Hour)
	commit(t, s, &socred.Write{Revoke: []socred.TokenRevocation{{ID: "tok-1", At: at}}})
	commit(t, s, &socred.Write{Revoke: []socred.TokenRevocation{{ID: "tok-1", At: at.Add(time.Hour)}}})
	for _, read := range []func() (*socred.Token, error){
		func() (*socred.Token, error) { return s.TokenByHash(ctx, tok.Hash) },
		func() (*socred.Token, error) { return s.Token(ctx, "tok-1") },
	} {
		if got, err := read(); err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Errorf("revoked: got %+v, %v; want revoked at %v", got, err, at)
		}
	}
}

// loaded records what a store streams to a Loader.
type loaded struct {
	order    []string
	subjects []string
	rels     []socred.Relation
	records  []int64
	stopped  []int64 // records loaded as overturned or suspended
	desigs   []string
	listings []string
	settled  time.Time
	seq      int64
	mu       *sync.Mutex
}

func (l *loaded) step(s string) {
	if len(l.order) == 0 || l.order[len(l.order)-1] != s {
		l.order = append(l.order, s)
	}
}
func (l *loaded) Subject(s *socred.Subject) error {
	l.step("subjects")
	l.subjects = append(l.subjects, s.ID)
	return nil
}
func (l *loaded) Relation(r socred.Relation) error {
	l.step("relations")
	l.rels = append(l.rels, r)
	return nil
}
func (l *loaded) Record(r *socred.CountingRecord) error {
	if l.mu == nil {
		panic("loaded: no mutex")
	}
	l.mu.Lock() // Record may be called from several goroutines
	defer l.mu.Unlock()
	l.step("records")
	l.records = append(l.records, r.ID)
	if r.Overturned {
		l.stopped = append(l.stopped, r.ID)
	}
	return nil
}
func (l *loaded) Designation(d *socred.Designation) error {
	l.step("designations")
	l.desigs = append(l.desigs, d.ID)
	return nil
}
func (l *loaded) Listing(subject, list string, since time.Time) error {
	l.step("listings")
	l.listings = append(l.listings, subject+" "+list+" "+since.Format(time.RFC3339))
	return nil
}
func (l *loaded) Settled(t time.Time, seq int64) error {
	l.step("settled")
	l.settled, l.seq = t, seq
	return nil
}

func testLoad(t *testing.T, s socred.Store) {
	empty := loaded{mu: new(sync.Mutex)}
	if err := s.Load(ctx, &empty); err != nil {
		t.Fatal(err)
	}
	if !empty.settled.IsZero() || len(empty.subjects) != 0 {
		t.Errorf("empty store: got %+v", empty)
	}
	settled := t0.AddDate(0, 6, 0)
	old := record(1, "old", "a", t0.AddDate(-2, 0, 0)) // stopped counting before settled
	live := record(2, "live", "a", t0)
	future := record(3, "future", "b", settled.Add(time.Hour))
	ended := designation("d-ended", "defaulters", "a", t0, time.Hour)
	e := t0.Add(time.Minute)
	ended.EndedAt = &e
	commit(t, s, &socred.Write{
		Subjects:     []*socred.Subject{person("a"), person("b")},
		Relate:       []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}},
		Records:      []*socred.Record{old, live, future},
		Designations: []*socred.Designation{designation("d-live", "defaulters", "b", t0, 24*365*time.Hour), ended, designation("d-run-out", "defaulters", "b", t0, time.Hour)},
		Events: []socred.Event{
			listed(socred.EventListed, "a", "black", "", t0, nil, t0),
			listed(socred.EventListed, "b", "defaulters", "d-live", t0, nil, t0),
		},
		Settled: &settled,
	})
	l := loaded{mu: new(sync.Mutex)}
	if err := s.Load(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if want := []string{"subjects", "relations", "records", "designations", "listings", "settled"}; !slices.Equal(l.order, want) {
		t.Errorf("order: got %v, want %v", l.order, want)
	}
	slices.Sort(l.subjects)
	slices.Sort(l.records)
	if !slices.Equal(l.subjects, []string{"a", "b"}) || len(l.rels) != 1 || !slices.Equal(l.records, []int64{2, 3}) ||
		!slices.Equal(l.desigs, []string{"d-live"}) || !slices.Equal(l.listings, []string{"a black " + t0.Format(time.RFC3339)}) || !l.settled.Equal(settled) {
		t.Errorf("loaded: got %+v", l)
	}
}

func testFeed(t *testing.T, s socred.Store) {
	if cs, err := s.Changes(ctx, 0, 10); err != nil || len(cs) != 0 {
		t.Fatalf("empty feed: got %v, %v", cs, err)
	}
	// Writes without a number are not changes: checks, accesses, tokens.
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b")}})
	commit(t, s, &socred.Write{Checks: []socred.CheckEntry{{Subject: "a", At: t0, By: "p", TokenID: "t", Action: "fly", Allowed: true}}})

	settled := t0.Add(time.Hour)
	one := &socred.Write{
		Now:          t0,
		Seq:          1,
		Subjects:     []*socred.Subject{person("c")},
		Relate:       []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}},
		Records:      []*socred.Record{record(7, "k7", "a", t0), record(9, "k9", "b", t0)},
		Designations: []*socred.Designation{designation("d1", "defaulters", "b", t0, time.Hour)},
		Settled:      &settled,
	}
	commit(t, s, one)
	// A second writer that has not seen change 1 is refused, and nothing of
	// its write is stored.
	err := s.Commit(ctx, &socred.Write{Now: t0, Seq: 1, Subjects: []*socred.Subject{person("z")}, Records: []*socred.Record{record(11, "k11", "a", t0)}})
	if !errors.Is(err, socred.ErrStale) {
		t.Fatalf("second change 1: got %v, want ErrStale", err)
	}
	if _, err := s.Subject(ctx, "z"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("subject of a stale write: got %v, want not found", err)
	}
	if err := s.Commit(ctx, &socred.Write{Now: t0, Seq: 3}); !errors.Is(err, socred.ErrStale) {
		t.Fatalf("change 3 after 1: got %v, want ErrStale", err)
	}
	due := t0.Add(2 * time.Hour)
	commit(t, s, &socred.Write{Now: due, Seq: 2, Unrelate: []socred.Relation{{From: "a", Type: "guarantor-of", To: "b"}}, Due: &due, DueSubjects: []string{"a", "b"}})

	cs, err := s.Changes(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Seq != 1 || cs[1].Seq != 2 {
		t.Fatalf("changes: got %+v", cs)
	}
	c := cs[0]
	if !c.At.Equal(t0) || len(c.Subjects) != 1 || c.Subjects[0].ID != "c" || len(c.Relate) != 1 || c.Relate[0] != one.Relate[0] ||
		len(c.Designations) != 1 || c.Designations[0].ID != "d1" || !c.Designations[0].Until.Equal(t0.Add(time.Hour)) ||
		c.Settled == nil || !c.Settled.Equal(settled) || c.Due != nil {
		t.Errorf("change 1: got %+v", c)
	}
	if want := []socred.RecordRef{{ID: 7, Subject: "a"}, {ID: 9, Subject: "b"}}; !slices.Equal(c.Records, want) {
		t.Errorf("change 1 records: got %v, want %v", c.Records, want)
	}
	c = cs[1]
	if len(c.Unrelate) != 1 || c.Due == nil || !c.Due.Equal(due) || !slices.Equal(c.DueSubjects, []string{"a", "b"}) || len(c.Records) != 0 {
		t.Errorf("change 2: got %+v", c)
	}
	if cs, err := s.Changes(ctx, 1, 10); err != nil || len(cs) != 1 || cs[0].Seq != 2 {
		t.Errorf("changes after 1: got %+v, %v", cs, err)
	}
	if cs, err := s.Changes(ctx, 0, 1); err != nil || len(cs) != 1 || cs[0].Seq != 1 {
		t.Errorf("one change: got %+v, %v", cs, err)
	}
	// A body the writer made (ChangeBody) is stored as it was made: the
	// store does not encode the write again.
	made, err := socred.ChangeBody(&socred.Write{Records: []*socred.Record{{ID: "12", Subject: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, &socred.Write{Now: due, Seq: 3, ChangeBody: made})
	if cs, err := s.Changes(ctx, 2, 10); err != nil || len(cs) != 1 || !slices.Equal(cs[0].Records, []socred.RecordRef{{ID: 12, Subject: "b"}}) {
		t.Errorf("change 3, with the writer's body: got %+v, %v", cs, err)
	}

	recs, err := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 9, Subject: "b"}, {ID: 7, Subject: "a"}, {ID: 8, Subject: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != "7" || recs[1].ID != "9" || recs[0].Key != "k7" || recs[1].Subject != "b" {
		t.Errorf("records by ref: got %+v", recs)
	}

	l := loaded{mu: new(sync.Mutex)}
	if err := s.Load(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if l.seq != 3 {
		t.Errorf("loaded feed position: got %d, want 3", l.seq)
	}
}

func testNotices(t *testing.T, s socred.Store) {
	if ns, err := s.Notices(ctx, "a", socred.Page{}); err != nil || len(ns) != 0 {
		t.Fatalf("no notices: got %v, %v", ns, err)
	}
	ev := socred.Event{Kind: socred.EventScoreChanged, Subject: "a", At: t0, Scheme: "city", OldScore: 1000, NewScore: 990}
	commit(t, s, &socred.Write{Notices: []socred.Notice{socred.EventNotice(ev), {Subject: "b", At: t0, Kind: socred.NoticeCheckDenied, Message: "m", Action: "fly", By: "air"}}, Deliver: true})
	ev2 := socred.Event{Kind: socred.EventScoreChanged, Subject: "a", At: t0.Add(time.Minute), Scheme: "city", OldScore: 990, NewScore: 985, Record: "7"}
	recNotice := socred.Notice{Subject: "a", At: t0.Add(time.Minute), Kind: socred.NoticeRecordAccepted, Message: "r", Record: "7"}.WithEvents(ev2)
	commit(t, s, &socred.Write{Notices: []socred.Notice{recNotice}})

	ns, err := s.Notices(ctx, "a", socred.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].Kind != socred.NoticeRecordAccepted || ns[0].Record != "7" || ns[1].Kind != socred.NoticeKind(socred.EventScoreChanged) ||
		len(ns[1].Events) != 1 || ns[1].Events[0].NewScore != 990 || !ns[1].At.Equal(t0) || ns[0].ID <= ns[1].ID {
		t.Fatalf("a's notices, newest first: got %+v", ns)
	}
	// A body keeps an event's sentences and time once (EncodeNotice):
	// the notices read back whole.
	if want := socred.EventNotice(ev).Message; ns[1].Message != want || !ns[1].Events[0].At.Equal(t0) || ns[1].Events[0].Subject != "a" {
		t.Errorf("an event's notice read back as %q, event %+v; want %q", ns[1].Message, ns[1].Events[0], want)
	}
	if ns[0].Message != "r Your city score changed from 990 to 985." || len(ns[0].Events) != 1 || !ns[0].Events[0].At.Equal(ev2.At) || ns[0].Events[0].Record != "7" {
		t.Errorf("a record's notice read back as %q, events %+v", ns[0].Message, ns[0].Events)
	}
	if ns, _ := s.Notices(ctx, "a", socred.Page{Limit: 1, Offset: 1}); len(ns) != 1 || ns[0].Kind != socred.NoticeKind(socred.EventScoreChanged) {
		t.Errorf("second page: got %+v", ns)
	}
	// Only notices written for delivery are pending, oldest first.
	pending, err := s.PendingNotices(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].Subject != "a" || pending[1].Subject != "b" || pending[1].Action != "fly" || pending[0].ID >= pending[1].ID {
		t.Fatalf("pending: got %+v", pending)
	}
	if p, _ := s.PendingNotices(ctx, 1); len(p) != 1 || p[0].ID != pending[0].ID {
		t.Errorf("one pending: got %+v", p)
	}
	if err := s.MarkDelivered(ctx, []int64{pending[0].ID}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingNotices(ctx, 10); len(p) != 1 || p[0].ID != pending[1].ID {
		t.Errorf("after one delivery: got %+v", p)
	}
	if err := s.MarkDelivered(ctx, []int64{pending[1].ID, pending[1].ID}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingNotices(ctx, 10); len(p) != 0 {
		t.Errorf("after every delivery: got %+v", p)
	}
}

func testContacts(t *testing.T, s socred.Store) {
	if _, err := s.Contact(ctx, "a"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Fatalf("no contact: got %v, want not found", err)
	}
	commit(t, s, &socred.Write{Contacts: []socred.Contact{{Subject: "a", Email: "a@example.cn"}, {Subject: "b", Email: "b@example.cn"}}})
	commit(t, s, &socred.Write{Contacts: []socred.Contact{{Subject: "a", Email: "a2@example.cn"}, {Subject: "b"}}})
	if c, err := s.Contact(ctx, "a"); err != nil || c.Email != "a2@example.cn" || c.Subject != "a" {
		t.Errorf("replaced contact: got %+v, %v", c, err)
	}
	if _, err := s.Contact(ctx, "b"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Errorf("removed contact: got %v, want not found", err)
	}
}

func testPurges(t *testing.T, s socred.Store) {
	a, b, c := record(1, "k1", "a", t0), record(2, "k2", "b", t0), record(3, "k3", "b", t0)
	a.Evidence, b.Evidence, c.Evidence = "contract 1", "contract 2", "contract 3"
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b")}, Records: []*socred.Record{a, b, c}})
	commit(t, s, &socred.Write{Purges: []socred.Purge{{Subject: "a", Record: 1, At: t0.Add(time.Hour)}, {Subject: "b", Record: 2, At: t0.Add(2 * time.Hour)}}})
	// The same purge scheduled again is one purge.
	commit(t, s, &socred.Write{Purges: []socred.Purge{{Subject: "a", Record: 1, At: t0.Add(time.Hour)}}})
	due := func(now time.Time, want int) []socred.Erasure {
		t.Helper()
		es, err := s.DuePurges(ctx, now, 10)
		if err != nil || len(es) != want {
			t.Fatalf("due at %v: got %d, %v; want %d", now, len(es), err, want)
		}
		return es
	}
	due(t0, 0)
	at := t0.Add(90 * time.Minute)
	es := due(at, 1)
	if e := es[0]; e.Record.ID != "1" || e.Record.Evidence != "" || e.Record.PurgedAt == nil || !e.Record.PurgedAt.Equal(at) ||
		!e.At.Equal(t0.Add(time.Hour)) || e.Record.Points != a.Points || e.Record.Key != "k1" || e.Record.PurgeLogIndex != nil {
		t.Fatalf("the purge due: got %+v, record %+v", e, e.Record)
	}
	es[0].Receipt = ptr(int64(7))
	commit(t, s, &socred.Write{Now: at, Erase: es})
	recs, err := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 1, Subject: "a"}, {ID: 2, Subject: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Evidence != "" || recs[0].PurgedAt == nil || !recs[0].PurgedAt.Equal(at) ||
		recs[0].PurgeLogIndex == nil || *recs[0].PurgeLogIndex != 7 || recs[1].Evidence != "contract 2" || recs[1].PurgedAt != nil {
		t.Errorf("after the first purge: got %+v, %+v", recs[0], recs[1])
	}
	// The rest of the record stays.
	if recs[0].Points != a.Points || recs[0].Key != "k1" || recs[0].Reporter != a.Reporter {
		t.Errorf("purged record lost more than its evidence: %+v", recs[0])
	}
	due(at, 0)

	// A second purge of record 1 falls due with record 2's: record 1 keeps
	// its first purge's moment and receipt.
	commit(t, s, &socred.Write{Purges: []socred.Purge{{Subject: "a", Record: 1, At: t0.Add(150 * time.Minute)}}})
	later := t0.Add(3 * time.Hour)
	es = due(later, 2)
	if es[0].Record.ID != "2" || es[1].Record.ID != "1" || es[1].Record.PurgeLogIndex == nil || *es[1].Record.PurgeLogIndex != 7 ||
		!es[1].Record.PurgedAt.Equal(at) {
		t.Fatalf("two due: got %+v, %+v", es[0].Record, es[1].Record)
	}
	es[0].Receipt, es[1].Receipt = ptr(int64(9)), ptr(int64(10))
	commit(t, s, &socred.Write{Now: later, Erase: es})
	recs, err = s.RecordsByRef(ctx, []socred.RecordRef{{ID: 1, Subject: "a"}, {ID: 2, Subject: "b"}})
	if err != nil || len(recs) != 2 {
		t.Fatal(recs, err)
	}
	if !recs[0].PurgedAt.Equal(at) || *recs[0].PurgeLogIndex != 7 || recs[1].Evidence != "" || !recs[1].PurgedAt.Equal(later) || *recs[1].PurgeLogIndex != 9 {
		t.Errorf("after the second round: got %+v, %+v", recs[0], recs[1])
	}
	due(later, 0)

	// A record purged with no receipt (before purges were logged) is due
	// until one is stored.
	commit(t, s, &socred.Write{Purges: []socred.Purge{{Subject: "b", Record: 3, At: t0.Add(time.Hour)}}})
	es = due(later, 1)
	commit(t, s, &socred.Write{Now: later, Erase: es})
	es = due(later, 1)
	if e := es[0]; e.Record.ID != "3" || !e.At.IsZero() || e.Record.PurgedAt == nil || !e.Record.PurgedAt.Equal(later) || e.Record.Evidence != "" {
		t.Fatalf("purged without a receipt: got %+v, record %+v", e, e.Record)
	}
	es[0].Receipt = ptr(int64(11))
	commit(t, s, &socred.Write{Now: later.Add(time.Hour), Erase: es})
	due(later.Add(time.Hour), 0)
	if recs, err := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 3, Subject: "b"}}); err != nil || len(recs) != 1 ||
		!recs[0].PurgedAt.Equal(later) || recs[0].PurgeLogIndex == nil || *recs[0].PurgeLogIndex != 11 {
		t.Errorf("record 3 logged: got %+v, %v", recs, err)
	}
}

func testDesignationPurges(t *testing.T, s socred.Store) {
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("a"), person("b"), person("c")}})
	d1 := designation("d1", "defaulters", "a", t0, 48*time.Hour)   // its term runs out at +48h
	d2 := designation("d2", "defaulters", "b", t0, 72*time.Hour)   // removed at +10h
	d3 := designation("d3", "defaulters", "c", t0, 1000*time.Hour) // in force
	d4 := designation("d4", "defaulters", "c", t0, 24*time.Hour)   // ended, but an appeal about it is open
	d5 := designation("d5", "other", "a", t0, time.Hour)           // another list's
	d6 := designation("d6", "third", "b", t0, time.Hour)           // ran out at +1h, an appeal about it decided at +100h
	commit(t, s, &socred.Write{Designations: []*socred.Designation{d1, d2, d3, d4, d5, d6}})
	entry := func(kind socred.EventKind, d *socred.Designation, at time.Time) socred.Event {
		e := listed(kind, d.Subject, d.List, d.ID, d.Since, &d.Until, at)
		e.Listing.Reason, e.Listing.Case = d.Reason, d.Case
		return e
	}
	ids := func(ds []*socred.Designation) (out []string) {
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	ended := *d2
	endAt := t0.Add(10 * time.Hour)
	ended.EndedAt, ended.EndReason = &endAt, "paid"
	commit(t, s, &socred.Write{Designations: []*socred.Designation{&ended}, Events: []socred.Event{
		entry(socred.EventListed, d1, t0), entry(socred.EventListed, d2, t0),
		entry(socred.EventDelisted, d2, endAt), entry(socred.EventDelisted, d1, d1.Until),
	}})
	// The notices that told of the entries carry their text: the
	// subject's own, and a related subject's (an entry reaching it through
	// a relation).
	endedEvent := entry(socred.EventDelisted, d2, endAt)
	endedEvent.Listing.EndReason = "paid"
	viaEvent := entry(socred.EventListed, d2, t0)
	viaEvent.Subject, viaEvent.Listing.Subject = "c", "c"
	viaEvent.Listing.Via = &socred.Via{Subject: "b", Relation: "legal-representative-of"}
	inForce := entry(socred.EventListed, d3, t0)
	commit(t, s, &socred.Write{Notices: []socred.Notice{
		socred.EventNotice(entry(socred.EventListed, d1, t0)), socred.EventNotice(endedEvent), socred.EventNotice(viaEvent),
		socred.EventNotice(inForce), socred.RecordNotice(record(9, "k9", "a", t0), "").WithEvents(entry(socred.EventDelisted, d1, d1.Until), inForce),
		socred.CheckNotice(&socred.CheckEntry{Subject: "a", At: t0, By: "airline", Action: "buy-flight-ticket"}),
	}})
	decided := t0.Add(100 * time.Hour)
	commit(t, s, &socred.Write{Appeals: []*socred.Appeal{{ID: "apl-9", Subject: "c", List: "defaulters", Designation: "d4",
		Statement: "wrong company", FiledAt: t0, ReviewDue: t0.AddDate(0, 0, 30), Status: socred.AppealOpen},
		{ID: "apl-10", Subject: "b", List: "third", Designation: "d6", Statement: "not me", FiledAt: t0, ReviewDue: t0.AddDate(0, 0, 30),
			Status: socred.AppealUpheld, DecidedAt: &decided, DecidedBy: "board", Reasons: "it was"}}})
	if ds, err := s.EndedDesignations(ctx, "third", t0.Add(50*time.Hour), 10); err != nil || len(ds) != 0 {
		t.Errorf("d6, whose appeal was decided after +50h: got %v, %v; want none (the decision counts as its end)", ids(ds), err)
	}
	if ds, err := s.EndedDesignations(ctx, "third", t0.Add(150*time.Hour), 10); err != nil || !slices.Equal(ids(ds), []string{"d6"}) {
		t.Errorf("d6 by +150h: got %v, %v", ids(ds), err)
	}

	if ds, err := s.EndedDesignations(ctx, "defaulters", t0.Add(5*time.Hour), 10); err != nil || len(ds) != 0 {
		t.Fatalf("before any ended: got %v, %v", ids(ds), err)
	}
	if lists, err := s.DesignationLists(ctx); err != nil || !slices.Equal(lists, []string{"defaulters", "other", "third"}) {
		t.Errorf("the lists holding designations: got %v, %v", lists, err)
	}
	ds, err := s.EndedDesignations(ctx, "defaulters", t0.Add(50*time.Hour), 10)
	if err != nil || !slices.Equal(ids(ds), []string{"d2", "d1"}) {
		t.Fatalf("ended by +50h: got %v, %v; want d2 (removed at +10h), then d1 (ran out at +48h)", ids(ds), err)
	}
	if ds[0].Reason != d2.Reason || ds[0].EndReason != "paid" || ds[0].PurgedAt != nil {
		t.Errorf("d2 as read: %+v", ds[0])
	}
	at := t0.Add(50 * time.Hour)
	for _, d := range ds {
		d.Reason, d.Case, d.EndReason, d.PurgedAt = "", "", "", &at
	}
	// A notice of d1 in the purge's own write is redacted too.
	late := entry(socred.EventDelisted, d1, at)
	late.Listing.EndReason = "paid late"
	commit(t, s, &socred.Write{Now: at, PurgeDesignations: ds, Notices: []socred.Notice{socred.EventNotice(late)}})
	for _, id := range []string{"d1", "d2"} {
		got, err := s.Designation(ctx, id)
		if err != nil || got.Reason != "" || got.Case != "" || got.EndReason != "" || got.PurgedAt == nil || !got.PurgedAt.Equal(at) ||
			got.Authority != "court" || !got.Since.Equal(t0) {
			t.Errorf("%s after its purge: %+v, %v", id, got, err)
		}
	}
	for _, subject := range []string{"a", "b"} {
		past, err := s.PastListings(ctx, subject, socred.Page{})
		if err != nil || len(past) != 1 || past[0].Reason != "" || past[0].Case != "" || past[0].EndReason != "" || past[0].Designation == "" {
			t.Errorf("%s's past listing after the purge: %+v, %v", subject, past, err)
		}
	}
	if got, _ := s.Designation(ctx, "d3"); got.Reason != d3.Reason || got.PurgedAt != nil {
		t.Errorf("d3, in force, purged: %+v", got)
	}
	// The notices keep no text of d1 and d2, and all of d3's.
	for _, subject := range []string{"a", "b", "c"} {
		ns, err := s.Notices(ctx, subject, socred.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if strings.Contains(n.Message, "paid") {
				t.Errorf("%s's notice %d still quotes d2's end reason: %q", subject, n.ID, n.Message)
			}
			for _, e := range n.Events {
				l := e.Listing
				switch {
				case l == nil:
				case l.Designation == "d3" && (l.Reason != d3.Reason || l.Case != d3.Case):
					t.Errorf("%s's notice %d lost d3's text: %+v", subject, n.ID, l)
				case l.Designation != "d3" && (l.Reason != "" || l.Case != "" || l.EndReason != ""):
					t.Errorf("%s's notice %d keeps %s's text: %+v", subject, n.ID, l.Designation, l)
				}
			}
		}
		if want := map[string]int{"a": 4, "b": 1, "c": 2}[subject]; len(ns) != want {
			t.Errorf("%s has %d notices after the purge, want %d", subject, len(ns), want)
		}
	}
	if ds, err := s.EndedDesignations(ctx, "defaulters", t0.Add(5000*time.Hour), 10); err != nil || !slices.Equal(ids(ds), []string{"d3"}) {
		t.Errorf("after the purge, once d3 ran out: got %v, %v; want d3 alone (d4's appeal is open)", ids(ds), err)
	}
	ds, err = s.EndedDesignations(ctx, "other", t0.Add(2*time.Hour), 10)
	if err != nil || !slices.Equal(ids(ds), []string{"d5"}) {
		t.Fatalf("the other list: got %v, %v", ids(ds), err)
	}
	ds[0].Reason, ds[0].PurgedAt = "", &at
	commit(t, s, &socred.Write{Now: at, PurgeDesignations: ds})
	if lists, err := s.DesignationLists(ctx); err != nil || !slices.Equal(lists, []string{"defaulters", "third"}) {
		t.Errorf("once the other list's one designation is purged: got %v, %v", lists, err)
	}
}

func testAppeals(t *testing.T, s socred.Store) {
	src := record(1, "k1", "li", t0)
	derived := record(2, "", "zhang", t0)
	derived.DerivedFrom = &socred.Derivation{Record: "1", Subject: "li", Relation: "guarantor-of"}
	commit(t, s, &socred.Write{Subjects: []*socred.Subject{person("li"), person("zhang")}, Records: []*socred.Record{src, derived, record(3, "k3", "li", t0)}})
	ds, err := s.DerivedRecords(ctx, socred.RecordRef{ID: 1, Subject: "li"})
	if err != nil || len(ds) != 1 || ds[0].ID != "2" || ds[0].Subject != "zhang" {
		t.Fatalf("derived from 1: got %+v, %v", ds, err)
	}
	if ds, _ := s.DerivedRecords(ctx, socred.RecordRef{ID: 3, Subject: "li"}); len(ds) != 0 {
		t.Errorf("derived from 3: got %+v", ds)
	}
	if _, err := s.Appeal(ctx, "apl-1"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Fatalf("no appeal: got %v", err)
	}
	a := &socred.Appeal{ID: "apl-1", Subject: "li", Record: "1", Statement: "I repaid it", FiledAt: t0, ReviewDue: t0.AddDate(0, 0, 30), Status: socred.AppealOpen}
	b := &socred.Appeal{ID: "apl-2", Subject: "li", List: "defaulters", Designation: "d-1", Statement: "wrong company", FiledAt: t0.Add(time.Hour), ReviewDue: t0.AddDate(0, 0, 30), Status: socred.AppealOpen}
	commit(t, s, &socred.Write{Appeals: []*socred.Appeal{a, b}})
	decided := *a
	at := t0.Add(2 * time.Hour)
	decided.Status, decided.DecidedAt, decided.DecidedBy, decided.DeciderToken, decided.Reasons = socred.AppealOverturned, &at, "board", "tok-r", "receipt shown"
	commit(t, s, &socred.Write{Now: at, Appeals: []*socred.Appeal{&decided}, Overturn: []socred.RecordRef{{ID: 1, Subject: "li"}, {ID: 2, Subject: "zhang"}}})
	got, err := s.Appeal(ctx, "apl-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != socred.AppealOverturned || got.DecidedAt == nil || !got.DecidedAt.Equal(at) || got.DeciderToken != "tok-r" || got.Reasons != "receipt shown" ||
		got.Statement != "I repaid it" || !got.FiledAt.Equal(t0) || got.Record != "1" {
		t.Errorf("decided appeal: got %+v", got)
	}
	as, err := s.SubjectAppeals(ctx, "li")
	if err != nil || len(as) != 2 || as[0].ID != "apl-1" || as[1].ID != "apl-2" || as[1].Designation != "d-1" || as[1].Status != socred.AppealOpen {
		t.Errorf("li's appeals: got %+v, %v", as, err)
	}
	recs, err := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 1, Subject: "li"}, {ID: 2, Subject: "zhang"}, {ID: 3, Subject: "li"}})
	if err != nil || len(recs) != 3 || !recs[0].Overturned || !recs[1].Overturned || recs[2].Overturned {
		t.Fatalf("overturned: got %+v, %v", recs, err)
	}
	if recs[0].OverturnedAt == nil || !recs[0].OverturnedAt.Equal(at) || recs[2].OverturnedAt != nil {
		t.Errorf("overturned at: got %v and %v, want %v and none", recs[0].OverturnedAt, recs[2].OverturnedAt, at)
	}
	// Overdue: apl-2 is open and past its review_due; once suspended it
	// is not overdue any more.
	late := t0.AddDate(0, 0, 31)
	if od, err := s.OverdueAppeals(ctx, t0, 10); err != nil || len(od) != 0 {
		t.Errorf("overdue before the due date: %+v, %v", od, err)
	}
	od, err := s.OverdueAppeals(ctx, late, 10)
	if err != nil || len(od) != 1 || od[0].ID != "apl-2" {
		t.Fatalf("overdue: %+v, %v", od, err)
	}
	sus := *od[0]
	sus.SuspendedAt = &late
	commit(t, s, &socred.Write{Now: late, Appeals: []*socred.Appeal{&sus}, Suspend: []socred.RecordRef{{ID: 3, Subject: "li"}}})
	if od, _ := s.OverdueAppeals(ctx, late, 10); len(od) != 0 {
		t.Errorf("overdue after the suspension: %+v", od)
	}
	if got, _ := s.Appeal(ctx, "apl-2"); got.SuspendedAt == nil || !got.SuspendedAt.Equal(late) {
		t.Errorf("suspended appeal: %+v", got)
	}
	if recs, _ := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 3, Subject: "li"}}); len(recs) != 1 || !recs[0].Suspended {
		t.Errorf("suspended record: %+v", recs)
	}
	// A restarted server loads overturned and suspended records as not
	// counting.
	stopped := func() []int64 {
		t.Helper()
		l := loaded{mu: new(sync.Mutex)}
		if err := s.Load(ctx, &l); err != nil {
			t.Fatal(err)
		}
		slices.Sort(l.stopped)
		return l.stopped
	}
	if got := stopped(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("loaded as not counting: got %v, want 1, 2 (overturned) and 3 (suspended)", got)
	}
	commit(t, s, &socred.Write{Now: late, Reinstate: []socred.RecordRef{{ID: 3, Subject: "li"}}})
	if got := stopped(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("loaded as not counting after the reinstatement: got %v, want 1, 2", got)
	}
	if recs, _ := s.RecordsByRef(ctx, []socred.RecordRef{{ID: 3, Subject: "li"}}); len(recs) != 1 || recs[0].Suspended {
		t.Errorf("reinstated record: %+v", recs)
	}
}

func testRepairs(t *testing.T, s socred.Store) {
	if _, err := s.Repair(ctx, "rep-1"); socred.ErrorCode(err) != socred.ENOTFOUND {
		t.Fatalf("no repair: got %v", err)
	}
	r := &socred.Repair{ID: "rep-1", Subject: "acme", List: "defaulters", Designation: "d-1", Route: "obligation-performed",
		Evidence: []string{"court receipt 2026-118", "bank transfer 77"}, Statement: "paid in full", FiledAt: t0, Status: socred.RepairPending}
	commit(t, s, &socred.Write{Repairs: []*socred.Repair{r, {ID: "rep-2", Subject: "acme", List: "defaulters", Designation: "d-1", Route: "commitment-letter", FiledAt: t0.Add(time.Hour), Status: socred.RepairPending}}})
	at := t0.Add(2 * time.Hour)
	d := *r
	d.Status, d.DecidedAt, d.DecidedBy, d.DeciderToken, d.Reasons = socred.RepairApproved, &at, "board", "tok-r", "receipts check out"
	commit(t, s, &socred.Write{Repairs: []*socred.Repair{&d}})
	got, err := s.Repair(ctx, "rep-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != socred.RepairApproved || !slices.Equal(got.Evidence, r.Evidence) || got.DecidedAt == nil || !got.DecidedAt.Equal(at) ||
		got.DeciderToken != "tok-r" || got.Route != "obligation-performed" || got.Statement != "paid in full" {
		t.Errorf("decided repair: got %+v", got)
	}
	rs, err := s.SubjectRepairs(ctx, "acme")
	if err != nil || len(rs) != 2 || rs[0].ID != "rep-1" || rs[1].ID != "rep-2" || rs[1].Evidence == nil || len(rs[1].Evidence) != 0 {
		t.Errorf("acme's repairs: got %+v, %v", rs, err)
	}
}

// CountingLoader is a socred.Loader that counts the records it is given and
// keeps nothing, for benchmarks of Load.
type CountingLoader struct{ Records atomic.Int64 }

func (l *CountingLoader) Subject(*socred.Subject) error           { return nil }
func (l *CountingLoader) Relation(socred.Relation) error          { return nil }
func (l *CountingLoader) Record(*socred.CountingRecord) error     { l.Records.Add(1); return nil }
func (l *CountingLoader) Designation(*socred.Designation) error   { return nil }
func (l *CountingLoader) Listing(string, string, time.Time) error { return nil }
func (l *CountingLoader) Settled(time.Time, int64) error          { return nil }

var _ socred.Loader = (*CountingLoader)(nil)

func ptr[T any](v T) *T { return &v }

// DesignationNotices are notices of designation d1's entry with its
// reason ("refuses to pay"), case ("case d1") and end reason ("paid in
// full"): subject a's own, subject c's (reached through a relation), and a
// denial of a's that describes none. Stores' tests of their migrations
// keep them as an older build did.
func DesignationNotices(at time.Time) []socred.Notice {
	until := at.AddDate(2, 0, 0)
	entry := func(subject string, via *socred.Via) *socred.Listing {
		return &socred.Listing{List: "defaulters", Kind: "black", Subject: subject, Since: at, Until: &until, Reason: "refuses to pay",
			Case: "(2026) case d1", Via: via, Authority: "court", Designation: "d1", EndReason: "paid in full"}
	}
	return []socred.Notice{
		socred.EventNotice(socred.Event{Kind: socred.EventDelisted, Subject: "a", At: at, Listing: entry("a", nil)}),
		socred.EventNotice(socred.Event{Kind: socred.EventListed, Subject: "c", At: at, Listing: entry("c", &socred.Via{Subject: "a", Relation: "legal-representative-of"})}),
		socred.CheckNotice(&socred.CheckEntry{Subject: "a", At: at, By: "airline", Action: "buy-flight-ticket"}),
	}
}

// CheckDesignationPurged purges d1 of DesignationNotices from s and fails
// t if a notice of a or c keeps any of its text.
func CheckDesignationPurged(t *testing.T, s socred.Store, at time.Time) {
	t.Helper()
	purged := at.AddDate(3, 0, 0)
	d := &socred.Designation{ID: "d1", List: "defaulters", Subject: "a", Authority: "court", Since: at, Until: at.AddDate(2, 0, 0), PurgedAt: &purged}
	if err := s.Commit(ctx, &socred.Write{Now: purged, PurgeDesignations: []*socred.Designation{d}}); err != nil {
		t.Fatal(err)
	}
	if n := NoticesQuoting(t, s, []string{"a", "c"}, "refuses to pay", "case d1", "paid in full"); len(n) != 0 {
		t.Errorf("after the purge the notices of a and c quote d1's text %v times", n)
	}
}

// NoticesQuoting counts, for each of subjects that has any, the texts its
// notices hold (a text once a notice).
func NoticesQuoting(t testing.TB, s socred.Store, subjects []string, texts ...string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, subject := range subjects {
		ns, err := s.Notices(ctx, subject, socred.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, nt := range ns {
			body, err := socred.EncodeNotice(nt)
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range texts {
				if strings.Contains(string(body), text) {
					n[subject]++
				}
			}
		}
	}
	return n
}
