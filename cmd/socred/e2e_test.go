package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestZhangStory plays the article's story over HTTP against the real
// binary, with the ingest validations the API documents, and checks that all of
// it survives a restart.
func TestZhangStory(t *testing.T) {
	playZhangStory(t, filepath.Join(t.TempDir(), "socred.db"))
}

// playZhangStory plays the story on servers with the database db, which
// starts empty.
func playZhangStory(t *testing.T, db string) {
	s := startServer(t, db)
	now := time.Now().UTC()

	city := s.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "credit office clerk"})
	court := s.token(map[string]any{"role": "authority", "authority": "spc", "name": "enforcement clerk"})
	railway := s.token(map[string]any{"role": "provider", "name": "China Railway 12306", "actions": []string{"ride-high-speed-train", "buy-train-ticket"}})
	airline := s.token(map[string]any{"role": "provider", "name": "Air China"})
	reviewer := s.token(map[string]any{"role": "reviewer", "name": "review board"})

	for _, sub := range []map[string]any{
		{"id": "zhang", "kind": "person", "name": "Zhang Yingjie", "region": "rongcheng"},
		{"id": "li", "kind": "person", "name": "Li Ming", "region": "rongcheng"},
		{"id": "stranger", "kind": "person", "name": "Visitor", "region": "beijing"},
		{"id": "acme", "kind": "organisation", "name": "Acme Trading", "region": "rongcheng"},
		{"id": "wang", "kind": "person", "name": "Wang Fang", "region": "rongcheng"},
	} {
		s.must(201, "PUT", "/v1/subjects/"+sub["id"].(string), city, sub)
	}
	s.must(200, "PUT", "/v1/subjects/zhang", city, map[string]any{"kind": "person", "name": "Zhang Yingjie", "region": "rongcheng"})
	s.must(201, "PUT", "/v1/relations", city, map[string]any{"from": "zhang", "type": "guarantor-of", "to": "li"})
	s.must(200, "PUT", "/v1/relations", city, map[string]any{"from": "zhang", "type": "guarantor-of", "to": "li"})
	s.must(201, "PUT", "/v1/relations", city, map[string]any{"from": "wang", "type": "legal-representative-of", "to": "acme"})
	// The subjects are the city's: the court may not change them or their relations.
	s.must(403, "PUT", "/v1/relations", court, map[string]any{"from": "li", "type": "guarantor-of", "to": "zhang"})
	s.must(403, "PUT", "/v1/subjects/zhang", court, map[string]any{"kind": "person", "name": "Someone Else", "region": "beijing"})

	// Li defaults; Zhang, his guarantor, loses points by joint liability.
	def := batch(rec("rc-2026-000123", "li", "rongcheng", "loan-default", now.Add(-24*time.Hour)))
	out := s.must(200, "POST", "/v1/records", city, def).json(t)
	r0 := out["records"].([]any)[0].(map[string]any)
	derived := r0["derived"].([]any)
	if r0["status"] != "accepted" || len(derived) != 1 || derived[0].(map[string]any)["subject"] != "zhang" || derived[0].(map[string]any)["points"] != -50.0 {
		t.Fatalf("default: got %v, want accepted with -50 derived for zhang", r0)
	}
	// Replaying the batch is a no-op reported as a duplicate with the same id.
	again := s.must(200, "POST", "/v1/records", city, def).json(t)["records"].([]any)[0].(map[string]any)
	if again["status"] != "duplicate" || again["id"] != r0["id"] {
		t.Errorf("replay: got %v, want duplicate of %v", again, r0["id"])
	}
	// The same key with another payload is a conflict.
	other := batch(rec("rc-2026-000123", "li", "rongcheng", "littering", now.Add(-24*time.Hour)))
	if code, field := s.must(409, "POST", "/v1/records", city, other).errorField(t); code != "conflict" || field != "records[0].key" {
		t.Errorf("reused key: got %s at %q", code, field)
	}

	// Refused batches store nothing.
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"one bad record", batch(rec("ok-1", "zhang", "rongcheng", "littering", now), rec("bad-1", "zhang", "rongcheng", "red-lite", now)), 400, "records[1].rule"},
		{"unknown scheme", batch(rec("bad-2", "zhang", "rongchen", "littering", now)), 400, "records[0].scheme"},
		{"unknown subject", batch(rec("bad-3", "nobody", "rongcheng", "littering", now)), 400, "records[0].subject"},
		{"outside the scope", batch(rec("bad-4", "stranger", "rongcheng", "littering", now)), 400, "records[0].subject"},
		{"in the future", batch(rec("bad-5", "zhang", "rongcheng", "littering", now.Add(time.Hour))), 400, "records[0].occurred_at"},
		{"another authority's scheme", batch(rec("bad-6", "zhang", "taxi-service", "refusing-passengers", now)), 403, "records[0].scheme"},
		{"bad JSON", `{"records": [{"key": "x",}]}`, 400, ""},
		{"over 4 MiB", `{"records": [` + strings.Repeat(" ", 4<<20) + `]}`, 413, ""},
	} {
		r := s.must(tc.status, "POST", "/v1/records", city, tc.body)
		if _, field := r.errorField(t); field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, field, tc.field)
		}
	}
	// An expired record is accepted but does not count.
	exp := s.must(200, "POST", "/v1/records", city, batch(rec("old-1", "zhang", "rongcheng", "red-light", now.AddDate(-3, 0, 0)))).json(t)
	if exp["records"].([]any)[0].(map[string]any)["status"] != "accepted" {
		t.Errorf("expired record: got %v", exp)
	}

	file := s.must(200, "GET", "/v1/subjects/zhang/file?purpose=story", reviewer, nil).json(t)
	assertScore(t, file, "rongcheng", 950, "B")
	if recs := file["records"].([]any); len(recs) != 2 {
		t.Errorf("zhang has %d records, want the derived one and the expired one: %v", len(recs), recs)
	}
	for _, r := range file["records"].([]any) {
		r := r.(map[string]any)
		if r["rule"] == "red-light" && (r["status"] != "expired" || r["counting"] != false) {
			t.Errorf("old red light: got status %v counting %v, want expired, false", r["status"], r["counting"])
		}
		if r["rule"] == "loan-default" && (r["derived_from"] == nil || r["legal_basis"] == "") {
			t.Errorf("derived record: got %v, want derived_from and a legal basis", r)
		}
	}

	// Zhang may no longer ride high-speed trains, and the railway is told why.
	chk := s.must(200, "POST", "/v1/checks", railway, map[string]any{"subject": "zhang", "action": "ride-high-speed-train", "purpose": "ticket G1234"}).json(t)
	reasons := chk["reasons"].([]any)
	if chk["allowed"] != false || len(reasons) != 1 || reasons[0].(map[string]any)["list"] != "rongcheng-blacklist" || reasons[0].(map[string]any)["legal_basis"] == "" {
		t.Fatalf("check: got %v, want denied by rongcheng-blacklist with its legal basis", chk)
	}
	s.must(403, "POST", "/v1/checks", railway, map[string]any{"subject": "zhang", "action": "buy-luxury-goods"})
	if chk := s.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "zhang", "action": "buy-luxury-goods"}).json(t); chk["allowed"] != false {
		t.Errorf("luxury goods: got %v, want denied", chk)
	}
	if chk := s.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "zhang", "action": "buy-flight-ticket"}).json(t); chk["allowed"] != true {
		t.Errorf("flight: got %v, want allowed", chk)
	}

	// He donates blood and gives to charity, and is off the list.
	s.must(200, "POST", "/v1/records", city, batch(rec("rc-blood-1", "zhang", "rongcheng", "blood-donation", now), rec("rc-charity-1", "zhang", "rongcheng", "charity-donation", now)))
	if chk := s.must(200, "POST", "/v1/checks", railway, map[string]any{"subject": "zhang", "action": "ride-high-speed-train"}).json(t); chk["allowed"] != true {
		t.Errorf("after good deeds: got %v, want allowed", chk)
	}
	file = s.must(200, "GET", "/v1/subjects/zhang/file", reviewer, nil).json(t)
	assertScore(t, file, "rongcheng", 960, "A")
	if n := len(file["listings"].([]any)); n != 0 {
		t.Errorf("after good deeds zhang has %d listings", n)
	}
	if n := len(file["checks"].([]any)); n != 4 {
		t.Errorf("zhang's file shows %d checks, want 4", n)
	}
	if acc := file["accesses"].([]any); len(acc) != 2 || acc[1].(map[string]any)["purpose"] != "story" {
		t.Errorf("accesses: got %v, want the two reads by the reviewer", acc)
	}

	// A court lists Acme; its legal representative is barred with it.
	entry := s.must(201, "POST", "/v1/lists/judgment-defaulters/entries", court, map[string]any{
		"subject": "acme", "reason": "refuses to pay judgment", "case": "(2026) Lu 1082 Zhi 77"}).json(t)
	if entry["until"] == nil || entry["since"] == nil {
		t.Errorf("designation: got %v, want since and until", entry)
	}
	s.must(409, "POST", "/v1/lists/judgment-defaulters/entries", court, map[string]any{"subject": "acme", "reason": "again"})
	s.must(403, "POST", "/v1/lists/judgment-defaulters/entries", city, map[string]any{"subject": "li", "reason": "not the court"})
	chk = s.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"}).json(t)
	if r := chk["reasons"].([]any); chk["allowed"] != false || len(r) != 1 || r[0].(map[string]any)["via"].(map[string]any)["subject"] != "acme" {
		t.Errorf("legal representative: got %v, want denied via acme", chk)
	}
	if es := s.must(200, "GET", "/v1/lists/judgment-defaulters/entries", court, nil).json(t)["entries"].([]any); len(es) != 1 {
		t.Errorf("list entries: got %v", es)
	}
	// Published only after the 10-day grace period.
	if es := s.must(200, "GET", "/v1/register?list=judgment-defaulters", "", nil).json(t)["entries"].([]any); len(es) != 0 {
		t.Errorf("register during the grace period: got %v", es)
	}

	// Everything survives a restart.
	s.stop()
	s = startServer(t, db)
	file = s.must(200, "GET", "/v1/subjects/zhang/file", reviewer, nil).json(t)
	assertScore(t, file, "rongcheng", 960, "A")
	if chk := s.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"}).json(t); chk["allowed"] != false {
		t.Errorf("after restart: wang %v, want denied", chk)
	}
	s.must(200, "DELETE", "/v1/lists/judgment-defaulters/entries/acme", court, map[string]any{"reason": "obligation performed"})
	if chk := s.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"}).json(t); chk["allowed"] != true {
		t.Errorf("after removal: wang %v, want allowed", chk)
	}
}

func assertScore(t *testing.T, file map[string]any, scheme string, score float64, grade string) {
	t.Helper()
	for _, sc := range file["scores"].([]any) {
		sc := sc.(map[string]any)
		if sc["scheme"] == scheme {
			if sc["score"] != score || sc["grade"] != grade {
				t.Errorf("%s: got %v %v, want %v %v", scheme, sc["score"], sc["grade"], score, grade)
			}
			return
		}
	}
	t.Errorf("no score in %s: %v", scheme, file["scores"])
}
