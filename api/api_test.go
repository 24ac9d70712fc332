package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

func TestPutSubject(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path string
		body       any
		want       int
		field      string
	}{
		{"new", "/v1/subjects/wang", map[string]any{"kind": "person", "name": "Wang", "region": "rongcheng"}, 201, ""},
		{"same again", "/v1/subjects/wang", map[string]any{"kind": "person", "name": "Wang", "region": "rongcheng"}, 200, ""},
		{"replaced", "/v1/subjects/wang", map[string]any{"kind": "person", "name": "Wang Fang", "region": "rongcheng", "groups": []string{"taxi-driver"}}, 200, ""},
		{"id repeated", "/v1/subjects/wang", map[string]any{"id": "wang", "kind": "person", "name": "Wang Fang", "region": "rongcheng"}, 200, ""},
		{"id contradicts path", "/v1/subjects/wang", map[string]any{"id": "zhao", "kind": "person", "name": "Zhao"}, 400, "id"},
		{"bad kind", "/v1/subjects/zhao", map[string]any{"kind": "robot", "name": "Zhao"}, 400, "kind"},
		{"bad group", "/v1/subjects/zhao", map[string]any{"kind": "person", "name": "Zhao", "groups": []string{"ok", "Not OK"}}, 400, "groups[1]"},
		{"bad path id", "/v1/subjects/-zhao", map[string]any{"kind": "person", "name": "Zhao"}, 400, "id"},
		{"kind not a string", "/v1/subjects/zhao", map[string]any{"kind": 3, "name": "Zhao"}, 400, "kind"},
		{"unknown field", "/v1/subjects/zhao", map[string]any{"kind": "person", "name": "Zhao", "religion": "x"}, 400, "religion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.on(t).do("PUT", tt.path, asAuthority, tt.body)
			if res.Code != tt.want {
				t.Fatalf("got %d, want %d: %s", res.Code, tt.want, res.Body)
			}
			if tt.want >= 400 {
				if _, _, field := res.apiError(); field != tt.field {
					t.Errorf("field %q, want %q", field, tt.field)
				}
				return
			}
			var got socred.Subject
			res.decode(&got)
			if got.ID != "wang" || got.Groups == nil {
				t.Errorf("got %+v, want subject wang with groups", got)
			}
		})
	}
	var got socred.Subject
	f.must(200, "GET", "/v1/subjects/wang", asReviewer, nil).decode(&got)
	if got.Name != "Wang Fang" || len(got.Groups) != 0 {
		t.Errorf("after the puts: got %+v, want Wang Fang with no groups", got)
	}
	f.must(404, "GET", "/v1/subjects/nobody", asAdmin, nil)
}

// TestSubjectReadsOnlyItself checks the object-level rights of a subject
// token: its own subject and file, nobody else's.
func TestSubjectReadsOnlyItself(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path string
		want int
	}{
		{"/v1/subjects/zhang", 200},
		{"/v1/subjects/zhang/file", 200},
		{"/v1/subjects/li", 403},
		{"/v1/subjects/li/file", 403},
		{"/v1/subjects/nobody/file", 403},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := f.on(t).do("GET", tt.path, asSubject, nil)
			if res.Code != tt.want {
				t.Errorf("got %d, want %d: %s", res.Code, tt.want, res.Body)
			}
		})
	}
}

// TestFileShowsReads checks that a read of the file by someone else is
// shown to the subject, with its purpose, and the subject's own is not.
func TestFileShowsReads(t *testing.T) {
	f := newFixture(t)
	f.must(200, "POST", "/v1/records", asAuthority, records(record("r1", "li", "loan-default")))
	f.must(200, "GET", "/v1/subjects/zhang/file?purpose=loan+application+77", asAuthority, nil)
	f.must(200, "GET", "/v1/subjects/zhang/file", asReviewer, nil)
	f.must(200, "GET", "/v1/subjects/zhang", asOtherAuthority, nil)
	f.must(200, "GET", "/v1/subjects/zhang", asSubject, nil)
	var file service.File
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if len(file.Accesses) != 3 {
		t.Fatalf("got %d accesses, want 3: %+v", len(file.Accesses), file.Accesses)
	}
	if a := file.Accesses[0]; a.By != "railway clerk" || a.Purpose != "subject read" {
		t.Errorf("the read of the subject: got %+v, want the railway clerk's, purpose \"subject read\"", a)
	}
	file.Accesses = file.Accesses[1:]
	if a := file.Accesses[1]; a.By != "city clerk" || a.Role != socred.RoleAuthority || a.Purpose != "loan application 77" {
		t.Errorf("first access: got %+v, want the city clerk's, with its purpose", a)
	}
	if a := file.Accesses[0]; a.Role != socred.RoleReviewer || a.Purpose != "file read" {
		t.Errorf("second access: got %+v, want the reviewer's, purpose \"file read\"", a)
	}
	if len(file.Records) != 1 || file.Records[0].DerivedFrom == nil || file.Records[0].Points != -45 {
		t.Errorf("records: got %+v, want one derived record of -45", file.Records)
	}
	if len(file.Scores) != 1 || file.Scores[0].Score != 955 {
		t.Errorf("scores: got %+v, want city 955", file.Scores)
	}
	if len(file.Listings) != 1 || file.Listings[0].List != "city-black" {
		t.Errorf("listings: got %+v, want city-black", file.Listings)
	}
	for _, purpose := range []string{strings.Repeat("x", 201), "case%0A7", "case%E2%80%AE7"} {
		res := f.must(400, "GET", "/v1/subjects/zhang/file?purpose="+purpose, asAuthority, nil)
		if _, _, field := res.apiError(); field != "purpose" {
			t.Errorf("purpose %s: field %q, want purpose", purpose, field)
		}
	}
}

func TestRelations(t *testing.T) {
	f := newFixture(t)
	rel := map[string]string{"from": "li", "type": "guarantor-of", "to": "acme-co"}
	steps := []struct {
		method string
		body   any
		want   int
		field  string
	}{
		{"PUT", rel, 201, ""},
		{"PUT", rel, 200, ""},
		{"DELETE", rel, 200, ""},
		{"DELETE", rel, 200, ""}, // idempotent, as API.md says: "with the same body → 200"
		{"DELETE", map[string]string{"from": "li", "type": "guarantor-of", "to": "nobody"}, 400, "to"},
		{"PUT", map[string]string{"from": "li", "type": "friend-of", "to": "acme-co"}, 400, "type"},
		{"PUT", map[string]string{"from": "li", "type": "guarantor-of", "to": "nobody"}, 400, "to"},
		{"PUT", map[string]string{"from": "li", "type": "guarantor-of", "to": "li"}, 400, "to"},
		{"PUT", map[string]any{"from": "li", "type": "guarantor-of", "to": "acme-co", "since": "2020"}, 400, "since"},
	}
	for i, s := range steps {
		res := f.do(s.method, "/v1/relations", asAuthority, s.body)
		if res.Code != s.want {
			t.Fatalf("step %d: %s: got %d, want %d: %s", i, s.method, res.Code, s.want, res.Body)
		}
		if s.want >= 400 {
			if _, _, field := res.apiError(); field != s.field {
				t.Errorf("step %d: field %q, want %q", i, field, s.field)
			}
		}
	}
}

func TestRecords(t *testing.T) {
	f := newFixture(t)
	// li defaults; zhang, her guarantor, gets a derived record.
	var out struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default"), record("k2", "zhang", "blood"))).decode(&out)
	if len(out.Records) != 2 {
		t.Fatalf("got %d results, want 2", len(out.Records))
	}
	r0, r1 := out.Records[0], out.Records[1]
	if r0.Key != "k1" || r0.Status != "accepted" || len(r0.Derived) != 1 || r0.Derived[0].Subject != "zhang" || r0.Derived[0].Points != -45 {
		t.Errorf("k1: got %+v, want accepted with a derived -45 for zhang", r0)
	}
	if r1.Status != "accepted" || r1.Derived == nil || len(r1.Derived) != 0 {
		t.Errorf("k2: got %+v, want accepted with derived []", r1)
	}
	if !strings.Contains(string(f.must(200, "POST", "/v1/records", asAuthority, records(record("k3", "zhang", "blood"))).Body), `"derived":[]`) {
		t.Error(`derived is not [] in the JSON`)
	}

	// The same key and payload again is a duplicate; a new payload a conflict.
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default"))).decode(&out)
	// Answered as the first time: the records derived from it too.
	if got := out.Records[0]; got.Status != "duplicate" || got.ID != r0.ID || len(got.Derived) != 1 || got.Derived[0].ID != r0.Derived[0].ID ||
		got.Derived[0].Subject != "zhang" || got.Derived[0].Points != -45 {
		t.Errorf("resubmitted k1: got %+v, want duplicate of %s with its derived record %+v", got, r0.ID, r0.Derived)
	}

	// A key twice in one batch for the same record: the second is a
	// duplicate of the first, answered as a later batch would be, and
	// stored once. With a key stored before, both are duplicates.
	before := f.store.recordCount()
	var twice struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k4", "li", "loan-default"), record("k5", "li", "blood"), record("k4", "li", "loan-default"), record("k1", "li", "loan-default"), record("k1", "li", "loan-default"))).decode(&twice)
	if len(twice.Records) != 5 {
		t.Fatalf("got %d results, want 5", len(twice.Records))
	}
	first, again := twice.Records[0], twice.Records[2]
	if first.Status != "accepted" || len(first.Derived) != 1 || again.Status != "duplicate" || again.Key != "k4" || again.ID != first.ID ||
		len(again.Derived) != 1 || again.Derived[0].ID != first.Derived[0].ID || again.Derived[0].Points != -45 || *again.LogIndex != *first.LogIndex {
		t.Errorf("k4 twice: got %+v and %+v, want accepted with a derived record, then a duplicate of it", first, again)
	}
	if twice.Records[1].Key != "k5" || twice.Records[1].Status != "accepted" {
		t.Errorf("k5: got %+v, want accepted", twice.Records[1])
	}
	for _, got := range twice.Records[3:] {
		if got.Status != "duplicate" || got.ID != r0.ID || len(got.Derived) != 1 || got.Derived[0].ID != r0.Derived[0].ID {
			t.Errorf("k1 twice again: got %+v, want a duplicate of %s with its derived record", got, r0.ID)
		}
	}
	if got, want := f.store.recordCount(), before+3; got != want { // k4, its derived record, k5
		t.Errorf("after a batch repeating a key the store holds %d records, want %d", got, want)
	}
	stored := f.store.recordCount()

	changed := record("k1", "li", "loan-default")
	changed["evidence"] = "another file"
	future := record("f1", "li", "blood")
	future["occurred_at"] = "2999-01-01T00:00:00Z"
	notTime := record("t1", "li", "blood")
	notTime["occurred_at"] = "yesterday"
	extra := record("x1", "li", "blood")
	extra["colour"] = "red"
	foreign := record("s1", "li", "blood")
	foreign["scheme"] = "nowhere"
	tests := []struct {
		name   string
		as     string
		body   any
		status int
		code   string
		field  string
	}{
		{"changed payload", asAuthority, records(changed), 409, "conflict", "records[0].key"},
		{"changed payload after a record repeated", asAuthority, records(record("k9", "li", "blood"), record("k9", "li", "blood"), changed), 409, "conflict", "records[2].key"},
		{"unknown rule", asAuthority, records(record("a", "li", "blood"), record("b", "li", "blood"), record("c", "li", "red-lite")), 400, "invalid", "records[2].rule"},
		{"unknown scheme", asAuthority, records(foreign), 400, "invalid", "records[0].scheme"},
		{"unknown subject", asAuthority, records(record("u", "nobody", "blood")), 400, "invalid", "records[0].subject"},
		{"future", asAuthority, records(future), 400, "invalid", "records[0].occurred_at"},
		{"not a time", asAuthority, records(record("ok", "li", "blood"), notTime), 400, "invalid", "records[1].occurred_at"},
		{"unknown field", asAuthority, records(record("ok", "li", "blood"), extra), 400, "invalid", "records[1].colour"},
		{"key in batch twice for different records", asAuthority, records(record("d", "li", "blood"), record("e", "li", "blood"), record("d", "zhang", "blood")), 409, "conflict", "records[2].key"},
		{"key in batch twice for different records, then an unknown rule", asAuthority, records(record("d", "li", "blood"), record("d", "zhang", "blood"), record("c", "li", "red-lite")), 409, "conflict", "records[1].key"},
		{"empty batch", asAuthority, records(), 400, "invalid", "records"},
		{"no records field", asAuthority, map[string]any{}, 400, "invalid", "records"},
		{"records not an array", asAuthority, map[string]any{"records": "k1"}, 400, "invalid", "records"},
		{"another authority's scheme", asOtherAuthority, records(record("o", "li", "blood")), 403, "forbidden", "records[0].scheme"},
		{"another authority's scheme, with an unknown rule", asOtherAuthority, records(record("o", "li", "nope")), 403, "forbidden", "records[0].scheme"},
		{"another authority's scheme, dated in the future", asOtherAuthority, records(future), 403, "forbidden", "records[0].scheme"},
		// The first bad record is named, though the JSON decoder refuses
		// a later one first.
		{"unknown subject before a bad time", asAuthority, records(record("ok", "li", "blood"), record("u", "nobody", "blood"), notTime), 400, "invalid", "records[1].subject"},
		{"unknown rule before an unknown field", asAuthority, records(record("r", "li", "red-lite"), extra), 400, "invalid", "records[0].rule"},
		{"a bad time before an unknown subject", asAuthority, records(notTime, record("u", "nobody", "blood")), 400, "invalid", "records[0].occurred_at"},
		{"a field named like a record", asAuthority, map[string]any{"records": []any{record("ok", "li", "blood")}, "records[-1]": 0}, 400, "invalid", "records[-1]"},
		// Over 1 MiB, as 10,001 records are: not a batch a larger body may be.
		{"too many records, the last malformed", asAuthority, records(append(slices.Repeat([]map[string]any{record("r", "nobody", "blood")}, service.MaxBatch), notTime)...), 413, "too_large", "records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.on(t).do("POST", "/v1/records", tt.as, tt.body)
			if res.Code != tt.status {
				t.Fatalf("got %d, want %d: %s", res.Code, tt.status, res.Body)
			}
			code, msg, field := res.apiError()
			if code != tt.code || field != tt.field {
				t.Errorf("got %s at %q, want %s at %q (%s)", code, field, tt.code, tt.field, msg)
			}
			if tt.field != "" && !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("message %q does not start with the field", msg)
			}
		})
	}
	if got := f.store.recordCount(); got != stored {
		t.Errorf("after the refused batches the store holds %d records, want %d: a refused batch stored something", got, stored)
	}
}

// TestLargeBatch submits record batches over 1 MiB: one over 4 MiB,
// refused whole; bodies over 1 MiB that are not well-formed batches,
// refused with 413; and 10,000 records between 1 and 4 MiB, accepted.
func TestLargeBatch(t *testing.T) {
	f := newFixture(t)
	batch := func(n, evidence int) string {
		var rs []map[string]any
		for i := range n {
			r := record("big-"+itoa(int64(i)), "li", "blood")
			r["evidence"] = strings.Repeat("e", evidence)
			rs = append(rs, r)
		}
		b, err := json.Marshal(records(rs...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	over := batch(10000, 400)
	if len(over) <= MaxRecordsBodyForTest {
		t.Fatalf("test batch is %d bytes, want over 4 MiB", len(over))
	}
	f.must(413, "POST", "/v1/records", asAuthority, over)
	if n := f.store.recordCount(); n != 0 {
		t.Fatalf("a refused batch stored %d records", n)
	}
	// A body over 1 MiB that is not a well-formed batch is refused with
	// 413, as API.md has it; a well-formed one with a bad record gets the
	// 400 that names it, as a smaller batch would.
	big := batch(9000, 150)
	if len(big) <= 1<<20 {
		t.Fatalf("test batch is %d bytes, want over 1 MiB", len(big))
	}
	unknownField := strings.Replace(big, `"rule":"blood"`, `"rule":"blood","colour":"red"`, 2)
	for _, tt := range []struct {
		name, body, code, field string
	}{
		{"cut short", big[:len(big)-10], "too_large", ""},
		{"not UTF-8", big[:len(big)-3] + "\xff]}", "too_large", ""},
		{"an unknown field", unknownField, "too_large", "records[0].colour"},
		{"an unknown rule", strings.Replace(big, `"rule":"blood"`, `"rule":"red-lite"`, 1), "invalid", "records[0].rule"},
	} {
		res := f.do("POST", "/v1/records", asAuthority, tt.body)
		code, msg, field := res.apiError()
		if code != tt.code || field != tt.field {
			t.Errorf("%s: got %d %s at %q, want %s at %q: %s", tt.name, res.Code, code, field, tt.code, tt.field, msg)
		}
	}
	if n := f.store.recordCount(); n != 0 {
		t.Fatalf("refused batches stored %d records", n)
	}
	// 10,000 records with 150 bytes of evidence each: over 1 MiB, under 4.
	under := batch(10000, 150)
	if len(under) <= 1<<20 || len(under) > MaxRecordsBodyForTest {
		t.Fatalf("test batch is %d bytes, want between 1 and 4 MiB", len(under))
	}
	f.must(200, "POST", "/v1/records", asAuthority, under)
	if n := f.store.recordCount(); n != 10000 {
		t.Errorf("stored %d records, want 10000", n)
	}
	// Other endpoints keep 1 MiB.
	f.must(413, "POST", "/v1/checks", asProvider, `{"subject":"zhang","action":"ride-train","purpose":"`+strings.Repeat("p", 1<<20)+`"}`)
}

// MaxRecordsBodyForTest is the API's limit on the bodies of record batches.
const MaxRecordsBodyForTest = 4 << 20

func TestChecks(t *testing.T) {
	f := newFixture(t)
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default")))
	tests := []struct {
		name    string
		as      string
		body    any
		status  int
		allowed bool
		reasons []string // measures
		field   string
	}{
		{"restricted", asProvider, map[string]string{"subject": "zhang", "action": "ride-train", "purpose": "ticket G1234"}, 200, false, []string{"black-no-train"}, ""},
		{"bound provider, its action", asTrainProvider, map[string]string{"subject": "zhang", "action": "ride-train"}, 200, false, []string{"black-no-train"}, ""},
		{"bound provider, another action", asTrainProvider, map[string]string{"subject": "zhang", "action": "buy-flight"}, 403, false, nil, ""},
		{"allowed", asProvider, map[string]string{"subject": "acme-co", "action": "ride-train"}, 200, true, []string{}, ""},
		{"privilege not granted", asProvider, map[string]string{"subject": "acme-co", "action": "free-bike"}, 200, false, []string{}, ""},
		{"admin", asAdmin, map[string]string{"subject": "li", "action": "buy-flight"}, 200, true, []string{}, ""},
		{"unknown subject", asProvider, map[string]string{"subject": "nobody", "action": "ride-train"}, 404, false, nil, ""},
		{"unknown action", asProvider, map[string]string{"subject": "zhang", "action": "fly-to-moon"}, 404, false, nil, ""},
		{"no action", asProvider, map[string]string{"subject": "zhang"}, 400, false, nil, "action"},
		{"purpose too long", asProvider, map[string]string{"subject": "zhang", "action": "ride-train", "purpose": strings.Repeat("p", 201)}, 400, false, nil, "purpose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.on(t).do("POST", "/v1/checks", tt.as, tt.body)
			if res.Code != tt.status {
				t.Fatalf("got %d, want %d: %s", res.Code, tt.status, res.Body)
			}
			if tt.status != 200 {
				if _, _, field := res.apiError(); field != tt.field {
					t.Errorf("field %q, want %q", field, tt.field)
				}
				return
			}
			var d socred.Decision
			res.decode(&d)
			var got []string
			for _, r := range d.Reasons {
				got = append(got, r.Measure)
			}
			if d.Allowed != tt.allowed || d.Reasons == nil || strings.Join(got, ",") != strings.Join(tt.reasons, ",") {
				t.Errorf("got allowed %v reasons %v, want %v %v", d.Allowed, got, tt.allowed, tt.reasons)
			}
			// A privilege denied says who may have it; nothing else does.
			if privilege := tt.name == "privilege not granted"; privilege != (d.Why != "") || privilege && !strings.Contains(d.Why, "free-bike is a privilege, granted only to subjects on") {
				t.Errorf("why %q", d.Why)
			}
		})
	}
	var file service.File
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if len(file.Checks) != 2 || file.Checks[1].By != "any provider" || file.Checks[1].Purpose != "ticket G1234" || file.Checks[1].Allowed {
		t.Errorf("zhang's file shows checks %+v, want the two denied checks", file.Checks)
	}
}

func TestDesignations(t *testing.T) {
	f := newFixture(t)
	entry := map[string]string{"subject": "acme-co", "reason": "refuses to pay judgment", "case": "(2026) Lu 1082 Zhi 77", "term": "2y"}
	var l socred.Listing
	f.must(201, "POST", "/v1/lists/defaulters/entries", asAuthority, entry).decode(&l)
	if l.List != "defaulters" || l.Subject != "acme-co" || l.Until == nil || l.Case != entry["case"] {
		t.Errorf("got listing %+v", l)
	}
	tests := []struct {
		name, method, path, as string
		body                   any
		status                 int
		field                  string
	}{
		{"listed again", "POST", "/v1/lists/defaulters/entries", asAuthority, entry, 409, ""},
		{"listed again with a longer term", "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "acme-co", "reason": "still refuses", "term": "3y"}, 409, ""},
		{"extended by a term ending sooner", "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "r", "term": "1y"}, 400, "term"},
		{"extended without a term", "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "r"}, 400, "term"},
		{"extended without a reason", "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"term": "3y"}, 400, "reason"},
		{"extended beyond max_term", "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "r", "term": "6y"}, 400, "term"},
		{"extending an unlisted subject", "PATCH", "/v1/lists/defaulters/entries/li", asAuthority, map[string]string{"reason": "r", "term": "3y"}, 404, ""},
		{"another authority extends", "PATCH", "/v1/lists/defaulters/entries/acme-co", asOtherAuthority, map[string]string{"reason": "r", "term": "3y"}, 403, ""},
		{"extended with an unknown field", "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "r", "term": "3y", "until": "2030-01-01"}, 400, "until"},
		{"automatic list", "POST", "/v1/lists/city-black/entries", asAuthority, entry, 400, ""},
		{"unknown list", "POST", "/v1/lists/nowhere/entries", asAuthority, entry, 404, ""},
		{"another authority's list", "POST", "/v1/lists/defaulters/entries", asOtherAuthority, entry, 403, ""},
		// The list's authority is checked before the body is read.
		{"another authority's list, bad JSON", "POST", "/v1/lists/defaulters/entries", asOtherAuthority, "{", 403, ""},
		{"another authority extends, bad JSON", "PATCH", "/v1/lists/defaulters/entries/acme-co", asOtherAuthority, "{", 403, ""},
		{"another authority removes, bad JSON", "DELETE", "/v1/lists/defaulters/entries/acme-co", asOtherAuthority, "{", 403, ""},
		{"term too long", "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "li", "reason": "r", "term": "6y"}, 400, "term"},
		{"bad term", "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "li", "reason": "r", "term": "forever"}, 400, "term"},
		{"no reason", "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "li"}, 400, "reason"},
		{"another authority reads", "GET", "/v1/lists/defaulters/entries", asOtherAuthority, nil, 200, ""},
		{"bad limit", "GET", "/v1/lists/defaulters/entries?limit=ten", asAuditor, nil, 400, "limit"},
		{"zero limit", "GET", "/v1/lists/defaulters/entries?limit=0", asAuditor, nil, 400, "limit"},
		{"negative offset", "GET", "/v1/lists/defaulters/entries?offset=-1", asAuditor, nil, 400, "offset"},
		{"remove without reason", "DELETE", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{}, 400, "reason"},
		{"remove unlisted", "DELETE", "/v1/lists/defaulters/entries/li", asAuthority, map[string]string{"reason": "paid"}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.on(t).do(tt.method, tt.path, tt.as, tt.body)
			if res.Code != tt.status {
				t.Fatalf("got %d, want %d: %s", res.Code, tt.status, res.Body)
			}
			if _, _, field := res.apiError(); field != tt.field {
				t.Errorf("field %q, want %q", field, tt.field)
			}
		})
	}

	var ext socred.Listing
	f.must(200, "PATCH", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "still refuses", "term": "3y"}).decode(&ext)
	if ext.Designation != l.Designation || !ext.Since.Equal(l.Since) || ext.Until == nil || !ext.Until.Equal(l.Since.AddDate(3, 0, 0)) ||
		ext.Reason != "refuses to pay judgment; extended: still refuses" {
		t.Errorf("extended: got %+v, want %s from %v to three years on", ext, l.Designation, l.Since)
	}

	var entries struct{ Entries []socred.Listing }
	f.must(200, "GET", "/v1/lists/defaulters/entries?limit=5000&offset=0", asAuditor, nil).decode(&entries)
	if len(entries.Entries) != 1 || entries.Entries[0].Subject != "acme-co" {
		t.Errorf("entries: got %+v, want acme-co", entries.Entries)
	}
	if f.store.lastPage.Limit != 1000 {
		t.Errorf("limit=5000 reached the store as %d, want the cap 1000", f.store.lastPage.Limit)
	}
	f.must(200, "GET", "/v1/lists/defaulters/entries", asAuditor, nil)
	if f.store.lastPage.Limit != 100 {
		t.Errorf("no limit reached the store as %d, want the default 100", f.store.lastPage.Limit)
	}

	var d socred.Decision
	f.must(200, "POST", "/v1/checks", asProvider, map[string]string{"subject": "acme-co", "action": "buy-flight"}).decode(&d)
	if d.Allowed || len(d.Reasons) != 1 || d.Reasons[0].Measure != "def-no-fly" {
		t.Errorf("check while listed: got %+v, want denied by def-no-fly", d)
	}

	f.must(200, "DELETE", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "obligation performed"}).decode(&l)
	f.must(200, "GET", "/v1/lists/defaulters/entries", asAuthority, nil).decode(&entries)
	if len(entries.Entries) != 0 || !strings.Contains(string(f.must(200, "GET", "/v1/lists/defaulters/entries", asAuthority, nil).Body), `"entries":[]`) {
		t.Errorf("entries after removal: got %+v, want []", entries.Entries)
	}
}

func TestRegister(t *testing.T) {
	f := newFixture(t)
	if body := string(f.must(200, "GET", "/v1/register", asAnonymous, nil).Body); !strings.Contains(body, `"entries":[]`) {
		t.Errorf("empty register: got %s, want entries []", body)
	}
	f.must(201, "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "acme-co", "reason": "refuses to pay"})
	tests := []struct {
		query  string
		status int
		want   []string
	}{
		{"", 200, []string{"acme-co"}},
		{"?list=defaulters&q=acme", 200, []string{"acme-co"}},
		{"?q=zhang", 200, nil},
		{"?list=city-black", 200, nil}, // not published: no public entries
		{"?list=nope", 400, nil},
		{"?limit=x", 400, nil},
		{"?q=" + strings.Repeat("q", 101), 400, nil},
		{"?q=%00%ff", 400, nil}, // a NUL matched every entry
		{"?q=%ff", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := f.on(t).do("GET", "/v1/register"+tt.query, asAnonymous, nil)
			if res.Code != tt.status {
				t.Fatalf("got %d, want %d: %s", res.Code, tt.status, res.Body)
			}
			if tt.status != 200 {
				return
			}
			var out struct{ Entries []socred.RegisterEntry }
			res.decode(&out)
			var got []string
			for _, e := range out.Entries {
				got = append(got, e.Subject)
				if e.Name != "Acme Co." || e.LegalBasis != "SPC 2017" {
					t.Errorf("entry %+v, want Acme Co. with its legal basis", e)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A public route ignores a token, even an unknown one.
	f.must(200, "GET", "/v1/register", asUnknown, nil)
}

func TestSchemes(t *testing.T) {
	f := newFixture(t)
	var out struct {
		Authorities []socred.Authority
		Actions     []socred.Action
		Schemes     []struct {
			ID     string
			Grades []struct {
				Grade string
				Min   *int64
			}
			Rules []socred.Rule
		}
		Lists    []socred.List
		Measures []socred.Measure
		Hash     string
	}
	f.must(200, "GET", "/v1/schemes", asSubject, nil).decode(&out)
	if len(out.Authorities) != 2 || len(out.Actions) != 3 || len(out.Lists) != 3 || len(out.Measures) != 3 || out.Hash != "0123abcd" {
		t.Errorf("got %+v", out)
	}
	if len(out.Schemes) != 1 || len(out.Schemes[0].Rules) != 3 || out.Schemes[0].Rules[2].Joint[0].Points != -45 {
		t.Fatalf("schemes: got %+v", out.Schemes)
	}
	g := out.Schemes[0].Grades
	if len(g) != 4 || g[2].Grade != "B" || g[2].Min == nil || *g[2].Min != 0 || g[3].Min != nil {
		t.Errorf("grades: got %+v, want B with min 0 and D without a min", g)
	}
	if out.Lists[2].Term.String() != "2y" || out.Lists[0].When == "" {
		t.Errorf("lists: got %+v", out.Lists)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	if body := string(f.must(200, "GET", "/healthz", asAnonymous, nil).Body); !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("got %s", body)
	}
	f.store.set(func(s *fakeStore) { s.pingErr = errSecret })
	res := f.must(503, "GET", "/healthz", asAnonymous, nil)
	if strings.Contains(string(res.Body), "secret") || !strings.Contains(string(res.Body), `"status":"unavailable"`) {
		t.Errorf("got %s, want unavailable without the error", res.Body)
	}
	if !strings.Contains(f.logs.String(), errSecret.Error()) {
		t.Error("the store's error is not logged")
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default"), record("k2", "li", "blood")))
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default")))
	f.must(200, "POST", "/v1/checks", asProvider, map[string]string{"subject": "zhang", "action": "ride-train"})
	f.must(200, "POST", "/v1/checks", asProvider, map[string]string{"subject": "li", "action": "buy-flight"})
	f.must(200, "POST", "/v1/checks", asProvider, map[string]string{"subject": "acme-co", "action": "buy-flight"})
	f.must(403, "POST", "/v1/records", asProvider, records(record("k9", "li", "blood")))
	f.must(404, "GET", "/v1/nowhere", asAnonymous, nil)

	f.must(401, "GET", "/metrics", asAnonymous, nil)
	res := f.must(200, "GET", "/metrics", asAuditor, nil)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	body := string(res.Body)
	for _, want := range []string{
		`socred_http_requests_total{code="200",route="POST /v1/records"} 2`,
		`socred_http_requests_total{code="403",route="POST /v1/records"} 1`,
		`socred_http_requests_total{code="404",route="unmatched"} 1`,
		`socred_http_request_duration_seconds_count{route="POST /v1/checks"} 3`,
		`socred_records_ingested_total{status="accepted"} 2`,
		`socred_records_ingested_total{status="duplicate"} 1`,
		`socred_records_derived_total 1`,
		`socred_checks_total{outcome="allowed"} 2`,
		`socred_checks_total{outcome="denied"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMetricsPerAPI checks that two APIs count separately.
func TestMetricsPerAPI(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	a.must(200, "GET", "/v1/register", asAnonymous, nil)
	if body := string(b.must(200, "GET", "/metrics", asAdmin, nil).Body); strings.Contains(body, `route="GET /v1/register"`) {
		t.Error("an API's metrics show another API's requests")
	}
}

// TestRequestLog checks the request log: the route and status of every
// request, and never a token, a header or a body.
func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	f.must(200, "POST", "/v1/records", asAuthority, records(record("secret-key-123", "li", "blood")))
	f.must(401, "GET", "/v1/schemes", asUnknown, nil)
	logs := f.logs.String()
	for _, want := range []string{`"route":"POST /v1/records"`, `"status":200`, `"status":401`, `"duration":`, `"method":"POST"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	for name, tok := range f.tokens {
		if strings.Contains(logs, tok) {
			t.Errorf("the log holds the %s token", name)
		}
	}
	for _, secret := range []string{"Bearer", "secret-key-123", "/v1/subjects/zhang"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

func TestInternalError(t *testing.T) {
	f := newFixture(t)
	f.store.set(func(s *fakeStore) { s.checksErr = errSecret })
	res := f.must(500, "GET", "/v1/subjects/zhang/file", asReviewer, nil)
	code, msg, field := res.apiError()
	if code != "internal" || msg != "internal error" || field != "" {
		t.Errorf("got %s %q %q, want internal error", code, msg, field)
	}
	if strings.Contains(string(res.Body), "secret") {
		t.Errorf("the answer shows the internal error: %s", res.Body)
	}
	if logs := f.logs.String(); !strings.Contains(logs, errSecret.Error()) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Error("the internal error is not logged")
	}
}

func TestUnmatched(t *testing.T) {
	f := newFixture(t)
	res := f.must(404, "GET", "/v1/nowhere", asAnonymous, nil)
	if code, _, _ := res.apiError(); code != "not_found" {
		t.Errorf("code %q, want not_found", code)
	}
	res = f.must(405, "POST", "/v1/schemes", asAdmin, nil)
	if code, _, _ := res.apiError(); code != "method_not_allowed" {
		t.Errorf("code %q, want method_not_allowed", code)
	}
	if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q, want GET", allow)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

var errSecret = &secretError{}

type secretError struct{}

func (*secretError) Error() string { return "disk on fire at /var/secret/socred.db" }

// TestBodies checks how request bodies are read: the Content-Type, size,
// syntax, unknown fields and trailing data.
func TestBodies(t *testing.T) {
	f := newFixture(t)
	big := `{"kind": "person", "name": "` + strings.Repeat("n", 1<<20) + `"}`
	tests := []struct {
		name, contentType, body string
		unknownLength           bool
		status                  int
		field                   string
		message                 string // part of the message
	}{
		{"ok", "application/json", `{"kind": "person", "name": "Zhao"}`, false, 201, "", ""},
		{"charset", "application/json; charset=utf-8", `{"kind": "person", "name": "Zhao"}`, false, 200, "", ""},
		{"text", "text/plain", `{"kind": "person", "name": "Zhao"}`, false, 400, "", "Content-Type"},
		{"form", "application/x-www-form-urlencoded", `kind=person`, false, 400, "", "Content-Type"},
		{"no type", "", `{"kind": "person", "name": "Zhao"}`, false, 400, "", "Content-Type"},
		{"empty", "application/json", ``, false, 400, "", "body is required"},
		{"malformed", "application/json", "{\n  \"kind\": \"person\",\n}", false, 400, "", "line 3, column 1"},
		{"truncated", "application/json", `{"kind": "person"`, false, 400, "", "unexpected end"},
		{"trailing", "application/json", `{"kind": "person", "name": "Zhao"} {}`, false, 400, "", "line 1, column 36: unexpected data after"},
		{"unknown field", "application/json", `{"kind": "person", "name": "Zhao", "ethnicity": "x"}`, false, 400, "ethnicity", "unknown field"},
		{"wrong type", "application/json", `{"kind": "person", "name": "Zhao", "groups": "a"}`, false, 400, "groups", "must be an array"},
		{"not an object", "application/json", `[1, 2]`, false, 400, "", "must be an object"},
		{"too large", "application/json", big, false, 413, "", "1 MiB"},
		{"too large, unknown length", "application/json", big, true, 413, "", "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest("PUT", "/v1/subjects/zhao", tt.body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.unknownLength {
				req.ContentLength = -1
			}
			res := f.on(t).send(req, asAuthority)
			if res.Code != tt.status {
				t.Fatalf("got %d, want %d: %.300s", res.Code, tt.status, res.Body)
			}
			if tt.status >= 400 {
				code, msg, field := res.apiError()
				if want := map[int]string{400: "invalid", 413: "too_large"}[tt.status]; code != want {
					t.Errorf("code %q, want %q", code, want)
				}
				if field != tt.field || !strings.Contains(msg, tt.message) {
					t.Errorf("got %q at %q, want %q at %q", msg, field, tt.message, tt.field)
				}
			}
		})
	}
	res := f.must(413, "POST", "/v1/records", asAuthority, `{"records": [`+strings.Repeat(" ", 4<<20)+`]}`)
	if _, msg, _ := res.apiError(); !strings.Contains(msg, "4 MiB") {
		t.Errorf("records over 4 MiB: message %q", msg)
	}
}

// A 403 names the caller's role with the right article.
func TestForbiddenNamesTheRole(t *testing.T) {
	f := newFixture(t)
	for as, want := range map[string]string{asAuditor: "an auditor token may not call", asProvider: "a provider token may not call"} {
		res := f.on(t).do("PUT", "/v1/relations", as, map[string]any{"from": "li", "type": "guarantor-of", "to": "zhang"})
		if _, msg, _ := res.apiError(); res.Code != 403 || !strings.HasPrefix(msg, want) {
			t.Errorf("as %s: %d %q, want 403 beginning %q", as, res.Code, msg, want)
		}
	}
}

// A subject is its registrar's: only the authority that registered it and
// the admin change it, its relations (an authority must have registered one
// of the two subjects) and its contact; another authority gets 403.
func TestSubjectsBelongToTheirRegistrar(t *testing.T) {
	f := newFixture(t)
	var sub socred.Subject
	f.must(http.StatusCreated, "PUT", "/v1/subjects/rw-1", asOtherAuthority, map[string]any{"kind": "person", "name": "Rail Worker", "region": "rongcheng"}).decode(&sub)
	if sub.RegisteredBy != "railway" {
		t.Errorf("registered_by %q, want railway", sub.RegisteredBy)
	}
	zhang := map[string]any{"kind": "person", "name": "Someone Else", "region": "shanghai"}
	for _, tc := range []struct {
		name, method, path, as string
		body                   any
		status                 int
	}{
		{"another authority rewrites zhang", "PUT", "/v1/subjects/zhang", asOtherAuthority, zhang, 403},
		{"the city rewrites the railway's subject", "PUT", "/v1/subjects/rw-1", asAuthority, map[string]any{"kind": "person", "name": "X", "region": "rongcheng"}, 403},
		{"another authority removes zhang's guarantee", "DELETE", "/v1/relations", asOtherAuthority, map[string]string{"from": "zhang", "type": "guarantor-of", "to": "li"}, 403},
		{"another authority plants a guarantee", "PUT", "/v1/relations", asOtherAuthority, map[string]string{"from": "li", "type": "guarantor-of", "to": "zhang"}, 403},
		{"another authority redirects zhang's mail", "PUT", "/v1/subjects/zhang/contact", asOtherAuthority, map[string]string{"email": "x@example.org"}, 403},
		// Forbidden whatever else is wrong with the body: the right is
		// checked first.
		{"another authority rewrites zhang badly", "PUT", "/v1/subjects/zhang", asOtherAuthority, map[string]any{"kind": "alien"}, 403},
		{"another authority plants a guarantee of a bad type", "PUT", "/v1/relations", asOtherAuthority, map[string]string{"from": "li", "type": "nope", "to": "zhang"}, 403},
		{"another authority sets a bad address for zhang", "PUT", "/v1/subjects/zhang/contact", asOtherAuthority, map[string]string{"email": "bad"}, 403},
		{"the railway relates its own subject to zhang", "PUT", "/v1/relations", asOtherAuthority, map[string]string{"from": "rw-1", "type": "guarantor-of", "to": "zhang"}, 201},
		{"the city sets zhang's contact", "PUT", "/v1/subjects/zhang/contact", asAuthority, map[string]string{"email": "zhang@example.org"}, 200},
		{"the admin changes the railway's subject", "PUT", "/v1/subjects/rw-1", asAdmin, map[string]any{"kind": "person", "name": "Rail Worker Wu", "region": "rongcheng"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := f.on(t).do(tc.method, tc.path, tc.as, tc.body); res.Code != tc.status {
				t.Errorf("got %d, want %d: %s", res.Code, tc.status, res.Body)
			}
		})
	}
	f.must(http.StatusOK, "GET", "/v1/subjects/rw-1", asAdmin, nil).decode(&sub)
	if sub.Name != "Rail Worker Wu" || sub.RegisteredBy != "railway" {
		t.Errorf("after the admin's change: %+v, want the new name, still the railway's", sub)
	}
	f.must(http.StatusOK, "GET", "/v1/subjects/zhang", asAdmin, nil).decode(&sub)
	if sub.Name != "Zhang Wei" || sub.RegisteredBy != "city" {
		t.Errorf("zhang after the refused rewrite: %+v", sub)
	}
}

// A revoked token authenticates no one; revoking it again changes nothing;
// the revocation is the admin's alone.
func TestRevokeToken(t *testing.T) {
	f := newFixture(t)
	var tok service.NewToken
	f.must(http.StatusCreated, "POST", "/v1/tokens", asAdmin, map[string]any{"role": "auditor", "name": "leaked"}).decode(&tok)
	f.tokens["leaked"] = tok.Token
	f.must(http.StatusOK, "GET", "/v1/lists/defaulters/entries", "leaked", nil)
	f.must(http.StatusForbidden, "DELETE", "/v1/tokens/"+tok.ID, asAuditor, nil)
	var got socred.Token
	f.must(http.StatusOK, "DELETE", "/v1/tokens/"+tok.ID, asAdmin, nil).decode(&got)
	if got.ID != tok.ID || got.RevokedAt == nil || got.Name != "leaked" {
		t.Fatalf("revoked: %+v", got)
	}
	res := f.must(http.StatusUnauthorized, "GET", "/v1/lists/defaulters/entries", "leaked", nil)
	if _, msg, _ := res.apiError(); !strings.Contains(msg, "revoked") {
		t.Errorf("a revoked token's 401 says %q", msg)
	}
	var again socred.Token
	f.must(http.StatusOK, "DELETE", "/v1/tokens/"+tok.ID, asAdmin, nil).decode(&again)
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*got.RevokedAt) {
		t.Errorf("revoked again: %+v, want the first revocation's moment %v", again, got.RevokedAt)
	}
	f.must(http.StatusNotFound, "DELETE", "/v1/tokens/tok-none", asAdmin, nil)
	f.must(http.StatusOK, "GET", "/v1/lists/defaulters/entries", asAuditor, nil) // others unaffected
}
