package main_test

import (
	"testing"
	"time"

	"github.com/socred/socred/postgres/postgrestest"
)

// TestTwoServersShareADatabase runs two socred serve processes on one
// PostgreSQL schema and checks that they act as one server: what is written
// at A shows in B's checks within a second, a batch replayed at B is a
// duplicate of A's, tokens made at A work at B, and B restarted after A
// wrote answers from A's state.
func TestTwoServersShareADatabase(t *testing.T) {
	db := postgrestest.Schema(t, postgrestest.Database(t, "the test of two socred servers sharing a database"))
	a := startServer(t, db)
	b := startServer(t, db)
	now := time.Now().UTC()

	court := a.token(map[string]any{"role": "authority", "authority": "spc", "name": "enforcement clerk"})
	city := a.token(map[string]any{"role": "authority", "authority": "rongcheng-credit-office", "name": "credit office clerk"})
	airline := a.token(map[string]any{"role": "provider", "name": "Air China"})
	for _, sub := range []map[string]any{
		{"id": "acme", "kind": "organisation", "name": "Acme Trading", "region": "rongcheng"},
		{"id": "wang", "kind": "person", "name": "Wang Fang", "region": "rongcheng"},
		{"id": "li", "kind": "person", "name": "Li Ming", "region": "rongcheng"},
	} {
		a.must(201, "PUT", "/v1/subjects/"+sub["id"].(string), city, sub)
	}
	a.must(201, "PUT", "/v1/relations", city, map[string]any{"from": "wang", "type": "legal-representative-of", "to": "acme"})

	// B learns of the subjects A made from the feed, and lets Wang fly.
	took := within(t, time.Now(), time.Second, "B lets wang fly once A made him", func() (bool, string) {
		r := b.call("POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"})
		return r.status == 200 && r.json(t)["allowed"] == true, string(r.body)
	})
	t.Logf("B knew the subjects made at A after %s", took)

	// A court lists Acme at A; B bars its legal representative within a
	// second, for the listing of Acme.
	a.must(201, "POST", "/v1/lists/judgment-defaulters/entries", court, map[string]any{
		"subject": "acme", "reason": "refuses to pay judgment", "case": "(2026) Lu 1082 Zhi 77"})
	var denial map[string]any
	took = within(t, time.Now(), time.Second, "B denies wang a flight once A listed acme", func() (bool, string) {
		r := b.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"})
		denial = r.json(t)
		return denial["allowed"] == false, string(r.body)
	})
	t.Logf("B denied wang %s after A acknowledged the listing", took)
	if r, _ := denial["reasons"].([]any); len(r) != 1 || r[0].(map[string]any)["via"].(map[string]any)["subject"] != "acme" {
		t.Errorf("denial at B: got %v, want one reason, via acme", denial)
	}

	// A token made at A works at B at once, with the actions it was given;
	// a token no server made does not.
	railway := a.token(map[string]any{"role": "provider", "name": "China Railway 12306", "actions": []string{"ride-high-speed-train"}})
	if chk := b.must(200, "POST", "/v1/checks", railway, map[string]any{"subject": "wang", "action": "ride-high-speed-train"}).json(t); chk["allowed"] != false {
		t.Errorf("train at B with A's new token: got %v, want denied", chk)
	}
	b.must(403, "POST", "/v1/checks", railway, map[string]any{"subject": "wang", "action": "buy-flight-ticket"})
	b.must(401, "POST", "/v1/checks", "sct_made-by-no-server", map[string]any{"subject": "wang", "action": "buy-flight-ticket"})

	// A batch accepted at A is, replayed at B, a duplicate with A's ids.
	records := batch(
		rec("rc-shared-1", "wang", "rongcheng", "blood-donation", now.Add(-2*time.Hour)),
		rec("rc-shared-2", "li", "rongcheng", "littering", now.Add(-time.Hour)),
		rec("rc-shared-3", "li", "rongcheng", "volunteering", now.Add(-time.Hour)),
	)
	atA := a.must(200, "POST", "/v1/records", city, records).json(t)["records"].([]any)
	atB := b.must(200, "POST", "/v1/records", city, records).json(t)["records"].([]any)
	if len(atA) != 3 || len(atB) != 3 {
		t.Fatalf("got %d answers at A and %d at B, want 3 each", len(atA), len(atB))
	}
	for i := range atA {
		ra, rb := atA[i].(map[string]any), atB[i].(map[string]any)
		if ra["status"] != "accepted" || rb["status"] != "duplicate" || rb["id"] != ra["id"] {
			t.Errorf("record %d: got %v %v at A and %v %v at B, want accepted at A and a duplicate of it at B",
				i, ra["status"], ra["id"], rb["status"], rb["id"])
		}
	}

	// B is down while A takes Acme off the list; B started again answers
	// from the state A left, and B's own writes reach A.
	b.stop()
	a.must(200, "DELETE", "/v1/lists/judgment-defaulters/entries/acme", court, map[string]any{"reason": "obligation performed"})
	b = startServer(t, db)
	if chk := b.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"}).json(t); chk["allowed"] != true {
		t.Errorf("B restarted after the removal at A: got %v, want wang allowed", chk)
	}
	b.must(201, "POST", "/v1/lists/judgment-defaulters/entries", court, map[string]any{
		"subject": "acme", "reason": "refuses to pay a second judgment", "case": "(2026) Lu 1082 Zhi 91"})
	took = within(t, time.Now(), time.Second, "A denies wang a flight once the restarted B listed acme", func() (bool, string) {
		r := a.must(200, "POST", "/v1/checks", airline, map[string]any{"subject": "wang", "action": "buy-flight-ticket"})
		return r.json(t)["allowed"] == false, string(r.body)
	})
	t.Logf("A denied wang %s after the restarted B acknowledged the listing", took)
}

// within asks cond every 10 ms until it holds and returns how long after
// since that was. It fails the test, showing cond's last answer, unless
// cond held within limit of since.
func within(t *testing.T, since time.Time, limit time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	for {
		ok, last := cond()
		took := time.Since(since)
		if took > limit {
			t.Fatalf("%s: not within %s; last answer: %s", what, limit, last)
		}
		if ok {
			return took
		}
		time.Sleep(10 * time.Millisecond)
	}
}
