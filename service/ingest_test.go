package service_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socred/socred"
)

// TestConcurrentIngest submits overlapping batches from many goroutines:
// every key is stored once whoever sends it first, a batch that reuses a
// key for another record fails whole, joint liability follows, and the
// world rebuilt from the store after a restart stands exactly as the one
// built batch by batch.
func TestConcurrentIngest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "socred.db")
	c := &clock{t: t0}
	svc, store := open(t, path, c)
	var subs []*socred.Subject
	for i := range 40 {
		subs = append(subs, &socred.Subject{ID: "p" + strconv.Itoa(i), Kind: socred.Person, Name: "P", Region: "rongcheng"})
	}
	if _, err := svc.PutSubjects(ctx, admin, subs); err != nil {
		t.Fatal(err)
	}
	var rels []socred.Relation
	for i := range 10 {
		rels = append(rels, socred.Relation{From: "p" + strconv.Itoa(i+30), Type: "guarantor-of", To: "p" + strconv.Itoa(i)})
	}
	if _, err := svc.RelateAll(ctx, admin, rels); err != nil {
		t.Fatal(err)
	}
	rules := []string{"littering", "blood-donation", "loan-default", "red-light", "volunteering"}
	// The record with key k is always the same: whoever sends it, it is
	// one record.
	record := func(k int) socred.RecordInput {
		return socred.RecordInput{Key: "k" + strconv.Itoa(k), Subject: "p" + strconv.Itoa(k%30), Scheme: "rongcheng",
			Rule: rules[k%len(rules)], OccurredAt: t0.Add(-time.Duration(k) * time.Minute)}
	}
	const workers, batches, per = 8, 15, 40
	var first []socred.RecordInput
	for w := range workers {
		first = append(first, record(w)) // the keys the conflicting batches reuse
	}
	if _, err := svc.SubmitRecords(ctx, admin, first); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		accepted  = map[string]string{} // key → id
		conflicts int
	)
	for _, in := range first {
		accepted[in.Key] = ""
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var in []socred.RecordInput
				for i := range per {
					in = append(in, record((w*7+b*per+i)%900)) // workers overlap
				}
				if b%5 == 4 {
					bad := record(w) // the key of another record, another rule
					bad.Rule = "heroic-act"
					in = append(in, bad)
				}
				res, err := svc.SubmitRecords(ctx, admin, in)
				mu.Lock()
				switch {
				case socred.ErrorCode(err) == socred.ECONFLICT && b%5 == 4:
					conflicts++
				case err != nil:
					t.Errorf("worker %d batch %d: %v", w, b, err)
				default:
					for _, r := range res {
						if id, ok := accepted[r.Key]; ok && id != "" && id != r.ID {
							t.Errorf("key %s: ids %s and %s", r.Key, id, r.ID)
						}
						accepted[r.Key] = r.ID
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if conflicts != workers*3 {
		t.Errorf("%d conflicting batches refused, want %d", conflicts, workers*3)
	}
	standings := func() string {
		var all []any
		for _, s := range subs {
			f, err := svc.File(ctx, admin, s.ID, "test")
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, f.Scores, f.Listings, len(f.Records))
		}
		b, _ := json.Marshal(all)
		return string(b)
	}
	total := 0
	for _, s := range subs {
		f, _ := svc.File(ctx, admin, s.ID, "count")
		for _, r := range f.Records {
			if r.DerivedFrom == nil {
				total++
			}
		}
	}
	if total != len(accepted) {
		t.Errorf("stored %d records, want the %d distinct keys accepted", total, len(accepted))
	}
	before := standings()
	closeAll(t, svc, store)
	svc, store = open(t, path, c)
	defer closeAll(t, svc, store)
	if after := standings(); after != before {
		t.Errorf("after a restart the world stands otherwise:\n before %s\n after  %s", before, after)
	}
}

// A bad batch is answered with its first bad record, whichever check finds
// it: an unknown or out-of-scope subject before a later record's bad
// field, and nothing is stored.
func TestBatchNamesItsFirstBadRecord(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	ok := socred.RecordInput{Key: "ok", Subject: "wang", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}
	okElsewhere := ok
	okElsewhere.Evidence = "another street"
	for _, tc := range []struct {
		batch []socred.RecordInput
		field string
	}{
		{[]socred.RecordInput{{Key: "a", Subject: "nobody", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}, {Subject: "wang", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}}, "records[0].subject"},
		{[]socred.RecordInput{{Key: "a", Subject: "acme", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}, {Key: "b", Subject: "wang", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0.AddDate(1, 0, 0)}}, "records[0].subject"},
		{[]socred.RecordInput{ok, {Key: "a", Subject: "nobody", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}, ok}, "records[1].subject"},
		{[]socred.RecordInput{ok, okElsewhere}, "records[1].key"}, // a conflict
		{[]socred.RecordInput{ok, okElsewhere, {Key: "a", Subject: "nobody", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}}, "records[1].key"},
		{[]socred.RecordInput{ok, {Key: "a", Subject: "nobody", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}, okElsewhere}, "records[1].subject"},
	} {
		_, err := svc.SubmitRecords(ctx, admin, tc.batch)
		if socred.ErrorField(err) != tc.field {
			t.Errorf("got %v (field %q), want %s", err, socred.ErrorField(err), tc.field)
		}
	}
	if f, _ := svc.File(ctx, admin, "wang", "test"); len(f.Records) != 0 {
		t.Errorf("a refused batch stored %d records", len(f.Records))
	}
}

// A key used before for a different record is a conflict naming the
// record stored under it.
func TestKeyReusedNamesTheStoredRecord(t *testing.T) {
	c := &clock{t: t0}
	svc, store := open(t, filepath.Join(t.TempDir(), "socred.db"), c)
	defer closeAll(t, svc, store)
	setup(t, svc)
	res, err := svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "k", Subject: "wang", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.SubmitRecords(ctx, admin, []socred.RecordInput{{Key: "k", Subject: "zhao", Scheme: "rongcheng", Rule: "littering", OccurredAt: t0}})
	if socred.ErrorCode(err) != socred.ECONFLICT || !strings.Contains(err.Error(), "(record "+res[0].ID+")") {
		t.Errorf("got %v, want a conflict naming record %s", err, res[0].ID)
	}
}
