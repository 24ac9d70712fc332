package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestIngestBodies: the bodies made outside the heap are the batches of
// the records, in order, each a JSON request of its own whose capacity
// ends where it does, so that nothing can write into the next.
func TestIngestBodies(t *testing.T) {
	recs := make([]benchRecord, 1003)
	for i := range recs {
		recs[i] = benchRecord{key: fmt.Sprintf("k-%d", i), subject: subjectID(i % 7), rule: benchRules[i%len(benchRules)].id}
	}
	occurred := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	bodies, release, err := ingestBodies(recs, 100, occurred)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(bodies) != 11 {
		t.Fatalf("%d bodies for 1003 records in batches of 100, want 11", len(bodies))
	}
	next := 0
	for i, b := range bodies {
		if cap(b) != len(b) {
			t.Errorf("body %d: capacity %d beyond its length %d", i, cap(b), len(b))
		}
		var req struct {
			Records []struct {
				Key, Subject, Scheme, Rule, Evidence string
				OccurredAt                           time.Time `json:"occurred_at"`
			}
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		for _, r := range req.Records {
			want := recs[next]
			if r.Key != want.key || r.Subject != want.subject || r.Rule != want.rule || r.Scheme != "rongcheng" || !r.OccurredAt.Equal(occurred) {
				t.Fatalf("record %d reads %+v, want %+v", next, r, want)
			}
			next++
		}
	}
	if next != len(recs) {
		t.Errorf("%d records in the bodies, want %d", next, len(recs))
	}
}
