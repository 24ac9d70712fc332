package api_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
	"github.com/socred/socred/sqlite"
)

// TestOverSQLite runs the main flows over the real SQLite store, every
// answer validated against the OpenAPI document (RFC 3339 UTC times, no
// null arrays, documented fields only).
func TestOverSQLite(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "socred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixtureOn(t, store)

	var out struct{ Records []service.RecordResult }
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default"))).decode(&out)
	f.must(200, "POST", "/v1/records", asAuthority, records(record("k1", "li", "loan-default"))).decode(&out)
	if out.Records[0].Status != "duplicate" {
		t.Errorf("resubmitted: got %+v, want duplicate", out.Records[0])
	}
	f.must(409, "POST", "/v1/records", asAuthority, records(record("k1", "li", "blood")))

	var d socred.Decision
	f.must(200, "POST", "/v1/checks", asTrainProvider, map[string]string{"subject": "zhang", "action": "ride-train", "purpose": "G1234"}).decode(&d)
	if d.Allowed || len(d.Reasons) != 1 {
		t.Errorf("check: got %+v, want denied by one measure", d)
	}
	f.must(201, "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "acme-co", "reason": "refuses to pay", "case": "(2026) 77"})
	f.must(409, "POST", "/v1/lists/defaulters/entries", asAuthority, map[string]string{"subject": "acme-co", "reason": "again"})
	f.must(200, "GET", "/v1/lists/defaulters/entries", asAuditor, nil)
	f.must(200, "GET", "/v1/lists/city-black/entries", asAuditor, nil)
	if body := string(f.must(200, "GET", "/v1/register?q=acme", asAnonymous, nil).Body); !strings.Contains(body, `"subject":"acme-co"`) {
		t.Errorf("register: got %s, want acme-co", body)
	}
	f.must(200, "GET", "/v1/subjects/zhang/file?purpose=audit", asReviewer, nil)

	var file service.File
	f.must(200, "GET", "/v1/subjects/zhang/file", asSubject, nil).decode(&file)
	if len(file.Records) != 1 || len(file.Checks) != 1 || len(file.Accesses) != 1 || len(file.Listings) != 1 {
		t.Errorf("file: got %d records, %d checks, %d accesses, %d listings; want 1 of each",
			len(file.Records), len(file.Checks), len(file.Accesses), len(file.Listings))
	}
	f.must(200, "DELETE", "/v1/lists/defaulters/entries/acme-co", asAuthority, map[string]string{"reason": "paid"})
	f.must(200, "DELETE", "/v1/relations", asAuthority, map[string]string{"from": "zhang", "type": "guarantor-of", "to": "li"})
	// Removed again (a retry whose answer was lost): 200, as API.md says.
	f.must(200, "DELETE", "/v1/relations", asAuthority, map[string]string{"from": "zhang", "type": "guarantor-of", "to": "li"})
	f.must(200, "GET", "/healthz", asAnonymous, nil)
}
